"""The Customers service: create, get and list customers."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

from .._serde.codec import Codec
from .errors import APITimeoutError
from .models import Customer, NewCustomer
from .requester import RawResponse, Requester

#: How customers travel: what create sends, and what every call reads back.
NEW_CUSTOMER: Codec[NewCustomer] = Codec(NewCustomer, name="customer")
CUSTOMER: Codec[Customer] = Codec(Customer)

_UNSAFE_ID_CHARS = frozenset("/?#%\\")


def check_customer_id(customer_id: str) -> str:
    """Refuse ids that would change the request path, before anything is sent."""
    if not isinstance(customer_id, str) or not customer_id:
        raise ValueError(f"customer id must be a non-empty string, got {customer_id!r}")
    if customer_id in (".", "..") or any(
        ch in _UNSAFE_ID_CHARS or ch.isspace() or not ch.isprintable() for ch in customer_id
    ):
        raise ValueError(f"customer id {customer_id!r} contains characters not allowed in a path")
    return customer_id


def _new(customer: NewCustomer) -> bytes:
    if not isinstance(customer, NewCustomer):
        raise TypeError(f"create() takes a NewCustomer, got {type(customer).__name__}")
    return NEW_CUSTOMER.encode(customer)


def _path(customer_id: str) -> str:
    return f"/customers/{check_customer_id(customer_id)}"


class Customers:
    """`client.customers`: the Customers endpoints of the eComCharge API."""

    __slots__ = ("_requester",)

    def __init__(self, requester: Requester) -> None:
        # A Client (as before the Requester existed) still works: its own is used.
        self._requester: Requester = getattr(requester, "_requester", requester)

    @property
    def with_raw_response(self) -> CustomersWithRawResponse:
        """The same calls, returning a `RawResponse` (status, headers, request id)."""
        return CustomersWithRawResponse(self._requester)

    async def create(self, customer: NewCustomer) -> Customer:
        """POST /customers. Raises `ValidationError` (422) with per-field errors."""
        if not isinstance(customer, NewCustomer):
            _new(customer)  # raises the TypeError
        # The three steps of `Requester.send`, in this coroutine: one less per call in flight.
        requester = self._requester
        request = requester.request("POST", "/customers", NEW_CUSTOMER.encode(customer))
        return requester.finish(await requester.handler(request), CUSTOMER.decode)

    async def get(self, customer_id: str) -> Customer:
        """GET /customers/{id}. Raises `NotFoundError` when there is no such customer."""
        requester = self._requester  # as in `create`: no `Requester.send` coroutine
        request = requester.request("GET", _path(customer_id))
        return requester.finish(await requester.handler(request), CUSTOMER.decode)

    async def list(self) -> builtins.list[Customer]:
        """GET /customers: every customer of the shop, decoded at once (small shops)."""
        return await self._requester.send("GET", "/customers", b"", CUSTOMER.decode_list)

    async def iter(self) -> AsyncGenerator[Customer, None]:
        """GET /customers, streamed: customers one by one, in flat memory.

        Retries and middleware apply until the status arrives; after that a
        broken body raises (`DecodeError`, `APIConnectionError`) once the
        complete customers before the break are yielded. The client's timeout
        bounds each wait for the next chunk. Leaving the loop early releases
        the connection when the iterator is closed: wrap it in
        `contextlib.aclosing()` to do that at once.
        """
        response = await self._requester.respond("GET", "/customers", stream=True)
        chunks = response.chunks if response.chunks is not None else _single(response.body)
        timeout = self._requester.timeout
        if timeout is not None:
            chunks = _bounded(chunks, timeout)
        decoded = CUSTOMER.decode_stream(chunks, status=response.status, headers=response.headers)
        async with contextlib.aclosing(decoded) as customers:
            async for customer in customers:
                yield customer


class CustomersWithRawResponse:
    """`client.customers.with_raw_response`: each call returns a `RawResponse`."""

    __slots__ = ("_requester",)

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def create(self, customer: NewCustomer) -> RawResponse[Customer]:
        """POST /customers; `parse()` gives the created `Customer`."""
        return await self._requester.send_raw("POST", "/customers", _new(customer), CUSTOMER.decode)

    async def get(self, customer_id: str) -> RawResponse[Customer]:
        """GET /customers/{id}; `parse()` gives the `Customer`."""
        return await self._requester.send_raw("GET", _path(customer_id), b"", CUSTOMER.decode)

    async def list(self) -> RawResponse[builtins.list[Customer]]:
        """GET /customers; `parse()` gives the list of `Customer`."""
        return await self._requester.send_raw("GET", "/customers", b"", CUSTOMER.decode_list)


async def _single(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _bounded(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """`chunks`, each wait for the next one bounded by `seconds`."""
    try:
        while True:
            try:
                async with asyncio.timeout(seconds):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise APITimeoutError(f"no data for {seconds:g} s while streaming") from exc
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
