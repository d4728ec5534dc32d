"""The pure decisions of bulk import: what a failure means, and which customers match.

No I/O here: the importer (_importer.py) asks, these answer, and the tests check
them without an event loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Mapping
from json.encoder import encode_basestring_ascii as _json_string
from operator import attrgetter
from typing import Literal

from .._core.errors import AuthenticationError, DecodeError, EcomChargeError
from .._core.models import FIELDS, Customer, NewCustomer
from .._core.verdict import verdict

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
    # `_normal` written out: a call per field costs more than the rest of the key.
    return tuple(
        [(value.strip().casefold() or None) if value else None for value in _key_of(customer)]
    )


Match = Literal["found", "ambiguous", "absent"]


class ShopMatcher:
    """Finds the shop's customers that match wanted keys, offered one at a time.

    Holds only the wanted keys and the ids found, so a shop of any size can be
    streamed past it (`customers.iter()`): memory is O(rows to reconcile).
    `created` holds the ids this import was given for customers it created
    itself (it may hold a few more, never fewer): those belong to other rows,
    so they are never handed out, only noted (`taken`).
    """

    def __init__(self, wanted: Mapping[Key, int], created: Container[str] = frozenset()) -> None:
        self._wanted = wanted
        self._created = created
        self._emails = {key[_EMAIL] for key in wanted}  # a cheap first filter
        self.found: dict[Key, list[str]] = {}
        self.taken: dict[Key, str] = {}

    def offer(self, customer: Customer) -> None:
        if _normal(customer.email) not in self._emails:
            return
        key = customer_key(customer)
        need = self._wanted.get(key, 0)
        ids = self.found.get(key, ())
        if len(ids) >= need:
            return
        if customer.id in self._created:
            self.taken.setdefault(key, customer.id)
        else:
            self.found.setdefault(key, []).append(customer.id)

    def claim(self, key: Key) -> tuple[Match, str | None]:
        """Settle one held row: the customer its own create stored, or why there is none.

        `found` (with the id, now claimed: no other row gets it): an identical
        customer this import did not create for another row, so the row's own
        create landed. `ambiguous` (with an identical customer's id): every
        identical customer left may have been created by another row of this
        import, so the shop cannot be shown to hold one for this row, and
        sending it again could make a duplicate. `absent`: nothing identical,
        the create did not land.
        """
        ids = self.found.get(key)
        if ids:
            return "found", ids.pop(0)
        taken = self.taken.get(key)
        if taken is not None:
            return "ambiguous", taken
        return "absent", None


def match_customers(
    wanted: Mapping[Key, int], customers: Iterable[Customer], created: Container[str] = frozenset()
) -> dict[Key, list[str]]:
    """Ids of the shop's customers whose fields match a wanted key, at most `wanted[key]` each."""
    matcher = ShopMatcher(wanted, created)
    for customer in customers:
        matcher.offer(customer)
    return matcher.found


def key_hash(key: Key) -> str:
    """16 hex digits of SHA-256 over a key: what the journal stores instead of the row.

    The hashed text is byte for byte `json.dumps(key)` (a list of strings and
    nulls), written out here: every journal's hashes depend on those bytes.
    """
    text = ", ".join(["null" if value is None else _json_string(value) for value in key])
    return hashlib.sha256(f"[{text}]".encode()).hexdigest()[:16]


def customer_hash(customer: NewCustomer) -> str:
    """`key_hash(customer_key(customer))` in one pass over the fields: a journaled row's hash."""
    text = ", ".join(
        [
            _json_string(normal) if value and (normal := value.strip().casefold()) else "null"
            for value in _key_of(customer)
        ]
    )
    return hashlib.sha256(f"[{text}]".encode()).hexdigest()[:16]


#: What a failed create means for its row (the retry `Verdict` plus `fatal`).
RowFate = Literal["retry", "unclear", "final", "fatal"]


def classify(exc: EcomChargeError) -> RowFate:
    """What a failed create means for its row: the retry verdict, seen by an import.

    `retry`: surely not processed (refused connection, 408, 429, 503): send again
    after backing off. `unclear`: may have been processed: reconcile before sending
    again; so is a 2xx whose body did not decode (the create landed). `fatal`: the
    whole import cannot go on (401). `final`: the row failed.
    """
    if isinstance(exc, AuthenticationError):
        return "fatal"
    if isinstance(exc, DecodeError):
        return "unclear"
    return verdict(exc)
