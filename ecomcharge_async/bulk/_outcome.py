"""How a row of an import ends (`RowOutcome`), and the row while it is imported (`Item`)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

import attrs

from .._core.errors import EcomChargeError
from .._core.logs import logger, request_id
from .._core.models import NewCustomer
from ._bloom import BloomFilter
from ._counts import Tally
from ._journal import Journal
from ._reconcile import Key, customer_key
from ._row import RowOutcome, Status
from ._rows import Row, RowError, RowReader

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


def log_retry(item: Item, exc: EcomChargeError, paced: bool, max_attempts: int) -> None:
    """Log that a row is sent again, after the pause or at the slower pace."""
    logger.info(
        "line %d: %s; %s, then attempt %d of %d",
        item.line,
        type(exc).__name__,
        "slowing the pace" if paced else "pausing the import",
        item.attempts + 1,
        max_attempts,
        extra=log_fields(item, exc),
    )


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def feed_of(rows: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The rows as the feeder awaits them: a `RowReader`'s made as `Item`s (no `Row` a
    row), an async iterable's as they are, a plain iterable's read on the loop."""
    if isinstance(rows, RowReader):
        return rows._rows_as(Item)
    return aiter(rows) if isinstance(rows, AsyncIterable) else _each_row(rows)


async def _each_row(rows: Iterable[Any]) -> AsyncIterator[Any]:
    for row in rows:
        yield row


def as_item(row: Any, previous: int) -> Item | RowError:
    """An input row as the importer takes it; `previous` is the line of the one before."""
    item: Item | RowError
    if isinstance(row, Row):  # what the readers yield: asked first
        item = Item(row.line, row.customer)
    elif isinstance(row, NewCustomer):
        item = Item(previous + 1, row)
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

    `tally`, when given, counts every row as `tally.add(outcome)` would; a row this
    run created is counted in place (`total`, `created`, `reconciled`: all that
    `add` counts for it), so no `RowOutcome` is made for it unless `on_progress`
    takes one. The CLI's tally is counted so at its defaults, where nothing else
    listens per row.
    """

    def __init__(
        self,
        journal: Journal | None,
        created: BloomFilter,
        on_progress: Callable[[RowOutcome], object] | None,
        tally: Tally | None = None,
    ) -> None:
        self.journal = journal
        self.created = created
        self.on_progress = on_progress
        self.tally = tally
        self.counts = Tally()

    def resumed(self, line: int, status: Status) -> None:
        """A row an earlier run finished: counted, not sent."""
        self.counts.count(status, resumed=True)
        if self.on_progress is not None or self.tally is not None:
            self._tell(RowOutcome(line=line, status=status, resumed=True))

    def _tell(self, outcome: RowOutcome) -> None:
        if self.tally is not None:
            self.tally.add(outcome)
        if self.on_progress is not None:
            self.on_progress(outcome)

    def created_row(self, item: Item, customer_id: str, *, reconciled: bool = False) -> None:
        """A row this run created: `finish(..., "created", ...)` for the row path's most
        common end, with no `RowOutcome` made when only a tally listens."""
        journal = self.journal
        if journal is None or item.row is None:  # else its `done` record holds the id
            self.created.add(customer_id)  # this row's customer: no other row may claim it
        counts = self.counts
        counts.created += 1
        tally = self.tally
        if tally is not None:
            tally.total += 1
            tally.created += 1
        if reconciled:
            counts.reconciled += 1
            if tally is not None:
                tally.reconciled += 1
        try:
            if journal is not None and item.row is not None:
                journal.done(item.row, "created", customer_id)
        finally:  # told even when the journal cannot be written, so the stop counts it
            if self.on_progress is not None:
                self.on_progress(
                    RowOutcome(
                        line=item.line,
                        status="created",
                        customer_id=customer_id,
                        customer=item.customer,
                        reconciled=reconciled,
                    )
                )

    def created_ids(self) -> BloomFilter:
        """The ids of the customers this import created, for a reconciliation to pass over.

        With a journal, a created row's id goes into the filter here, not as the row
        ends: its `done` record holds it, and only a reconciliation consults the
        filter, so the ids recorded since the last reconciliation are read back from
        the file now (a filter's add is Python work; a reconciliation is rare). Nothing
        holds them in between: memory stays flat.
        """
        if self.journal is not None:
            self.journal.catch_up(self.created.add)
        return self.created

    def finish(
        self,
        line: int,
        status: Status,
        item: Item | None = None,
        *,
        errors: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        """A row that ended rejected or failed (`item` None: a line that was never a row)."""
        self.counts.count(status)
        try:
            if self.journal is not None and item is not None and item.row is not None:
                self.journal.done(item.row, status)
        finally:  # told even when the journal cannot be written, so the stop counts it
            if self.on_progress is not None or self.tally is not None:
                self._tell(
                    RowOutcome(
                        line=line,
                        status=status,
                        customer=item.customer if item is not None else None,
                        errors=errors,
                        message=message,
                    )
                )
