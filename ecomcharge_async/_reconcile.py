"""The pure decisions of bulk import: what a failure means, and which customers match.

No I/O here: the importer (bulk.py) asks, these answer, and the tests check
them without an event loop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Literal

from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConnectError,
    DecodeError,
    EcomChargeError,
    RateLimitError,
    ServerError,
)
from ._models import Customer, NewCustomer
from ._rows import FIELDS

Key = tuple[str | None, ...]

_key_of = attrgetter(*FIELDS)
_EMAIL = FIELDS.index("email")


def _normal(value: str | None) -> str | None:
    return (value.strip().casefold() or None) if value else None


def customer_key(customer: NewCustomer | Customer) -> Key:
    """What reconciliation matches on: every sendable field, in a fixed order.

    Values are compared trimmed and case-folded, with "" and unset alike, so a
    customer the API stored in a normalised form still matches the row sent.
    """
    return tuple(_normal(value) for value in _key_of(customer))


class ShopMatcher:
    """Finds the shop's customers that match wanted keys, offered one at a time.

    Holds only the wanted keys and the ids found, so a shop of any size can be
    streamed past it (`customers.iter()`): memory is O(rows to reconcile).
    """

    def __init__(self, wanted: Mapping[Key, int]) -> None:
        self._wanted = wanted
        self._emails = {key[_EMAIL] for key in wanted}  # a cheap first filter
        self.found: dict[Key, list[str]] = {}

    def offer(self, customer: Customer) -> None:
        if _normal(customer.email) not in self._emails:
            return
        key = customer_key(customer)
        need = self._wanted.get(key)
        if need:
            ids = self.found.setdefault(key, [])
            if len(ids) < need:
                ids.append(customer.id)


def match_customers(
    wanted: Mapping[Key, int], customers: Iterable[Customer]
) -> dict[Key, list[str]]:
    """Ids of the shop's customers whose fields match a wanted key, at most `wanted[key]` each."""
    matcher = ShopMatcher(wanted)
    for customer in customers:
        matcher.offer(customer)
    return matcher.found


def key_hash(key: Key) -> str:
    """16 hex digits of SHA-256 over a key: what the journal stores instead of the row."""
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


Verdict = Literal["retry", "unclear", "final", "fatal"]


def classify(exc: EcomChargeError) -> Verdict:
    """What a failed create means for its row.

    `retry`: surely not processed (refused connection, 408, 429, 503): send again
    after backing off. `unclear`: may have been processed: reconcile before sending
    again. `fatal`: the whole import cannot go on (401). `final`: the row failed.
    """
    if isinstance(exc, ConnectError | RateLimitError):
        return "retry"
    if isinstance(exc, APIConnectionError | DecodeError):
        return "unclear"
    if isinstance(exc, AuthenticationError):
        return "fatal"
    if isinstance(exc, APIError) and exc.status in (408, 503):
        return "retry"
    if isinstance(exc, ServerError):
        return "unclear"
    return "final"
