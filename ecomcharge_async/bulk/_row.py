"""What the input readers yield (a row with the line it starts on, or a line's error),
and how a row ends (`RowOutcome`)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

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
