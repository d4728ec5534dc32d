"""What the input readers yield: a row with the line it starts on, or a line's error."""

from __future__ import annotations

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
