"""The Customers service: create, get and list customers, each a line on the `Requester`."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from .._serde.codec import Codec
from .models import Customer, NewCustomer
from .requester import RawResponse, Requester, items

#: How customers travel: what create sends, and what every call reads back.
NEW_CUSTOMER: Codec[NewCustomer] = Codec(NewCustomer, name="customer")
CUSTOMER: Codec[Customer] = Codec(Customer)
#: The route of one customer: its id left out of traces and metrics.
ONE = "/customers/{customer_id}"

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
    """`client.customers`: the Customers endpoints of the eComCharge API.

    Each call checks its arguments when made and returns the coroutine of the
    one shared request path, so a call in flight holds that coroutine alone.
    """

    __slots__ = ("_api",)

    def __init__(self, requester: Requester) -> None:
        self._api = requester

    @property
    def with_raw_response(self) -> CustomersWithRawResponse:
        """The same calls, returning a `RawResponse` (status, headers, request id)."""
        return CustomersWithRawResponse(self._api)

    def create(self, customer: NewCustomer) -> Coroutine[Any, Any, Customer]:
        """POST /customers. Raises `ValidationError` (422) with per-field errors."""
        return self._api.call(
            "customers.create", "POST", "/customers", _new(customer), CUSTOMER.decode
        )

    def get(self, customer_id: str) -> Coroutine[Any, Any, Customer]:
        """GET /customers/{id}. Raises `NotFoundError` when there is no such customer."""
        return self._api.call("customers.get", "GET", _path(customer_id), b"", CUSTOMER.decode, ONE)

    def list(self) -> Coroutine[Any, Any, builtins.list[Customer]]:
        """GET /customers: every customer of the shop, decoded at once (small shops)."""
        return self._api.call("customers.list", "GET", "/customers", b"", CUSTOMER.decode_list)

    async def iter(self) -> AsyncGenerator[Customer, None]:
        """GET /customers, streamed: customers one by one, in flat memory.

        Retries and middleware apply until the status arrives; after that a
        broken body raises (`DecodeError`, `APIConnectionError`) once the
        complete customers before the break are yielded. The client's timeout
        bounds each wait for the next chunk. Leaving the loop early releases
        the connection when the iterator is closed: wrap it in
        `contextlib.aclosing()` to do that at once.
        """
        response = await self._api.send("customers.iter", "GET", "/customers", stream=True)
        async with contextlib.aclosing(items(response, CUSTOMER.decode_stream)) as customers:
            async for customer in customers:
                yield customer


class CustomersWithRawResponse:
    """`client.customers.with_raw_response`: each call returns a `RawResponse`."""

    __slots__ = ("_api",)

    def __init__(self, requester: Requester) -> None:
        self._api = requester

    async def create(self, customer: NewCustomer) -> RawResponse[Customer]:
        """POST /customers; `parse()` gives the created `Customer`."""
        response = await self._api.send("customers.create", "POST", "/customers", _new(customer))
        return RawResponse(response, CUSTOMER.decode)

    async def get(self, customer_id: str) -> RawResponse[Customer]:
        """GET /customers/{id}; `parse()` gives the `Customer`."""
        response = await self._api.send("customers.get", "GET", _path(customer_id), route=ONE)
        return RawResponse(response, CUSTOMER.decode)

    async def list(self) -> RawResponse[builtins.list[Customer]]:
        """GET /customers; `parse()` gives the list of `Customer`."""
        response = await self._api.send("customers.list", "GET", "/customers")
        return RawResponse(response, CUSTOMER.decode_list)
