"""What the input readers yield (a row with the line it starts on, or a line's error),
and how a row ends (`RowOutcome`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import attrs

from .._core.http import filled_then
from .._core.models import NewCustomer


@attrs.frozen
class Row:
    """One customer read from the input, with the line it starts on (1-based)."""

    line: int
    customer: NewCustomer


@attrs.frozen
class RowError:
    """One input line that could not become a customer, and why."""

    line: int
    message: str


R = TypeVar("R")
#: What a good row is made as, from its line and customer (a `Row`, or the importer's own).
Make = Callable[[int, NewCustomer], R]


def _fill_from_cells(self: Any, cells: tuple[str, ...]) -> None:
    email, ip, first_name, last_name, address, city, country, zip_, state, phone = cells
    self.email, self.ip = email, ip  # an empty one is sent as "", for the API's 422
    # An empty cell leaves its field unset (None): not sent.
    self.first_name, self.last_name = first_name or None, last_name or None
    self.address, self.city, self.country = address or None, city or None, country or None
    self.zip, self.state, self.phone = zip_ or None, state or None, phone or None
    self.__class__ = NewCustomer


#: A CSV row's customer from its cells in `FIELDS` order, made for the cost of a plain
#: class: `NewCustomer(...)` sets each of its ten fields through `object.__setattr__`.
csv_customer: Callable[[tuple[str, ...]], NewCustomer] = filled_then(NewCustomer, _fill_from_cells)


Status = Literal["created", "rejected", "failed"]


@attrs.frozen(kw_only=True)
class RowOutcome:
    """How one row ended, handed to `on_progress` as soon as it is known.

    `errors` are the API's per-field errors for a rejected row; `message` says
    what went wrong for a rejected or failed row. `resumed` outcomes were
    recorded by an earlier run and carry only the line and status.
    """

    line: int
    status: Status
    customer_id: str | None = None
    customer: NewCustomer | None = None
    errors: dict[str, Any] | None = None
    message: str | None = None
    reconciled: bool = False
    resumed: bool = False
