"""The Customers service: create, get and list customers."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from ._models import Customer, NewCustomer
from ._serde import decode_customer, decode_customer_list, encode_new_customer

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
        return decode_customer(response.body, status=response.status)

    async def get(self, customer_id: str) -> Customer:
        """GET /customers/{id}. Raises `NotFoundError` when there is no such customer."""
        path = f"/customers/{check_customer_id(customer_id)}"
        response = await self._client.send("GET", path)
        return decode_customer(response.body, status=response.status)

    async def list(self) -> builtins.list[Customer]:
        """GET /customers: every customer of the shop, decoded at once."""
        response = await self._client.send("GET", "/customers")
        return decode_customer_list(response.body, status=response.status)
