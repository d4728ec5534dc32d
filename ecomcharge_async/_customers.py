"""The Customers service: create, get and list customers."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

from ._errors import APITimeoutError
from ._models import Customer, NewCustomer
from ._serde import (
    decode_customer,
    decode_customer_list,
    decode_customer_stream,
    encode_new_customer,
)

if TYPE_CHECKING:
    from ._client import Client

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


class Customers:
    """`client.customers`: the Customers endpoints of the eComCharge API."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def create(self, customer: NewCustomer) -> Customer:
        """POST /customers. Raises `ValidationError` (422) with per-field errors."""
        if not isinstance(customer, NewCustomer):
            raise TypeError(f"create() takes a NewCustomer, got {type(customer).__name__}")
        response = await self._client.send("POST", "/customers", encode_new_customer(customer))
        return decode_customer(response.body, status=response.status, headers=response.headers)

    async def get(self, customer_id: str) -> Customer:
        """GET /customers/{id}. Raises `NotFoundError` when there is no such customer."""
        path = f"/customers/{check_customer_id(customer_id)}"
        response = await self._client.send("GET", path)
        return decode_customer(response.body, status=response.status, headers=response.headers)

    async def list(self) -> builtins.list[Customer]:
        """GET /customers: every customer of the shop, decoded at once (small shops)."""
        response = await self._client.send("GET", "/customers")
        return decode_customer_list(response.body, status=response.status, headers=response.headers)

    async def iter(self) -> AsyncGenerator[Customer, None]:
        """GET /customers, streamed: customers one by one, in flat memory.

        Retries and middleware apply until the status arrives; after that a
        broken body raises (`DecodeError`, `APIConnectionError`) once the
        complete customers before the break are yielded. The client's timeout
        bounds each wait for the next chunk. Leaving the loop early releases
        the connection when the iterator is closed: wrap it in
        `contextlib.aclosing()` to do that at once.
        """
        response = await self._client.send("GET", "/customers", stream=True)
        chunks = response.chunks if response.chunks is not None else _single(response.body)
        timeout = self._client.timeout
        if timeout is not None:
            chunks = _bounded(chunks, timeout)
        decoded = decode_customer_stream(chunks, status=response.status, headers=response.headers)
        async with contextlib.aclosing(decoded) as customers:
            async for customer in customers:
                yield customer


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
                raise APITimeoutError(f"no data for {seconds} s while streaming") from exc
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
