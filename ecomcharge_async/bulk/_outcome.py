"""How a row of an import ends (`RowOutcome`), and the row while it is imported (`Item`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import attrs

from .._core.errors import EcomChargeError
from .._core.logs import request_id
from .._core.models import NewCustomer
from ._bloom import BloomFilter
from ._counts import Tally
from ._journal import Journal
from ._reconcile import Key, customer_key
from ._row import RowOutcome, Status
from ._rows import Row, RowError

#: Why a held row whose identical customers may all belong to other rows is not sent again.
AMBIGUOUS = (
    "an identical customer exists ({id}) that another row of this import may have "
    "created; not created again to avoid a duplicate: check it"
)


@attrs.define(eq=False)
class Item:
    line: int
    customer: NewCustomer
    hash: str | None = None  # the key's journal hash, when there is a journal
    row: int | None = None  # the journal's number for this row, once recorded
    attempts: int = 0
    rounds: int = 0
    error: Exception | None = None

    @property
    def key(self) -> Key:
        """What reconciliation matches the row on: made only for a row it settles."""
        return customer_key(self.customer)


def log_fields(item: Item, exc: EcomChargeError) -> dict[str, Any]:
    """An import log record's fields: the line and the error, never the row's values."""
    return {
        "operation": exc.operation,
        "status": getattr(exc, "status", None),
        "attempt": max(item.attempts, 1),
        "line": item.line,
        "error": type(exc).__name__,
        "request_id": request_id(exc),
    }


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def each_row(rows: Iterable[Any]) -> AsyncIterator[Any]:
    """The rows of a plain iterable, for `async for` (an async one is read as it is)."""
    for row in rows:
        yield row


def as_item(row: Any, previous: int) -> Item | RowError:
    """An input row as the importer takes it; `previous` is the line of the one before."""
    item: Item | RowError
    if isinstance(row, NewCustomer):
        item = Item(previous + 1, row)
    elif isinstance(row, Row):
        item = Item(row.line, row.customer)
    elif isinstance(row, RowError):
        item = row
    else:
        raise TypeError(
            "rows must be NewCustomer, Row or RowError items, "
            f"got {type(row).__name__} after line {previous}"
        )
    if item.line <= previous:
        raise ValueError(f"row lines must increase: line {item.line} came after {previous}")
    return item


class Ledger:
    """Where the end of each row goes: the counts, the ids taken, `on_progress`, the journal.

    A row is counted (and told) even when its journal record cannot be written:
    a full disk then stops an import whose counts still say what the shop holds
    (the next run settles the row it could not journal).
    """

    def __init__(
        self,
        journal: Journal | None,
        created: BloomFilter,
        on_progress: Callable[[RowOutcome], object] | None,
    ) -> None:
        self.journal = journal
        self.created = created
        self.on_progress = on_progress
        self.counts = Tally()

    def resumed(self, line: int, status: Status) -> None:
        """A row an earlier run finished: counted, not sent."""
        self.counts.count(status, resumed=True)
        if self.on_progress is not None:
            self.on_progress(RowOutcome(line=line, status=status, resumed=True))

    def finish(
        self,
        line: int,
        status: Status,
        item: Item | None = None,
        *,
        customer_id: str | None = None,
        errors: dict[str, Any] | None = None,
        message: str | None = None,
        reconciled: bool = False,
    ) -> None:
        if customer_id is not None:
            self.created.add(customer_id)  # this row's customer: no other row may claim it
        self.counts.count(status, reconciled=reconciled)
        try:
            if self.journal is not None and item is not None and item.row is not None:
                self.journal.done(item.row, status, customer_id)
        finally:  # told even when the journal cannot be written, so the stop counts it
            if self.on_progress is not None:
                self.on_progress(
                    RowOutcome(
                        line=line,
                        status=status,
                        customer_id=customer_id,
                        customer=item.customer if item is not None else None,
                        errors=errors,
                        message=message,
                        reconciled=reconciled,
                    )
                )
