"""The customer models: what you send (`NewCustomer`) and what you get (`Customer`)."""

from __future__ import annotations

from typing import Any

import attrs


def _own_fields_first(cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    # A model's own fields lead (id, email, ip), then the shared details: the order
    # of reprs, of attrs.fields() and of the JSON sent.
    own = vars(cls).get("__annotations__", {})
    return [f for f in fields if f.name in own] + [f for f in fields if f.name not in own]


@attrs.frozen(kw_only=True)
class _Details:
    """The optional fields a customer is created with and read back with."""

    first_name: str | None = None
    last_name: str | None = None
    address: str | None = None
    city: str | None = None
    country: str | None = None
    zip: str | None = None
    state: str | None = None
    phone: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_fields_first)
class NewCustomer(_Details):
    """A customer to create. `email` and `ip` are required by the API.

    Fields left as None are not sent. The API's rules (valid email and IP,
    ISO country code, US zip, state for US/CA) are enforced by the server.
    """

    email: str
    ip: str


@attrs.frozen(kw_only=True, field_transformer=_own_fields_first)
class Customer(_Details):
    """A customer as the API returns it: the sent fields plus its `id`.

    Only `id` is sure to be there. Every other field, `email` and `ip`
    included, is None when the API leaves it out or sends null: customers made
    along with a subscription (through the subscription API) need not have
    them, and one such record must not hide the rest of a shop. A number where
    a string belongs is read as its text (`"zip": 92006` gives `"92006"`).
    """

    id: str
    email: str | None = None
    ip: str | None = None


#: The fields a customer is created with, in the model's order: the one field list.
FIELDS: tuple[str, ...] = tuple(field.name for field in attrs.fields(NewCustomer))
