"""Bulk customer import: bounded concurrency, streaming, resumable, exactly once.

`import_customers(client, rows)` creates one customer per row. A create that may
have reached the API without an answer (a timeout, a dropped connection, 500,
502, 504) is never sent again blindly: such rows are held aside and reconciled
against the shop, streamed with `client.customers.iter()` so memory stays
O(concurrency + rows held aside) whatever the shop's size, matching on every
sent field, and only those
the shop does not hold are created again. The API has no idempotency key, so a
customer identical in every field that was already in the shop (from an earlier
import, another source, or an identical input row) also counts as a match.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import attrs

from ._client import Client
from ._errors import AuthenticationError, EcomChargeError, RateLimitError, ValidationError
from ._journal import CREATED, FAILED, REJECTED, SENT, Journal, JournalError
from ._models import NewCustomer
from ._pacing import Pause, RateLimit
from ._reconcile import Key, ShopMatcher, classify, customer_key, key_hash, match_customers
from ._rows import Row, RowError, RowReader
from ._shard import check_shard, in_shard

__all__ = [
    "ImportReport",
    "JournalError",
    "Row",
    "RowError",
    "RowOutcome",
    "RowReader",
    "classify",
    "customer_key",
    "import_customers",
    "match_customers",
]

Status = Literal["created", "rejected", "failed"]
Sleep = Callable[[float], Awaitable[Any]]


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import did, as counts: `created + rejected + failed == total`.

    `resumed` of those rows were finished by an earlier run (read from the
    journal); `reconciled` were found in the shop after an unclear failure.
    """

    total: int
    created: int
    rejected: int
    failed: int
    resumed: int = 0
    reconciled: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every row was created."""
        return self.rejected == 0 and self.failed == 0


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


@attrs.define(eq=False)
class _Item:
    line: int
    customer: NewCustomer
    key: Key
    journaled: bool = False
    attempts: int = 0
    rounds: int = 0
    error: Exception | None = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _items(rows: Iterable[Any] | AsyncIterable[Any]) -> Any:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


class _Importer:
    def __init__(
        self,
        client: Client,
        *,
        concurrency: int,
        journal: Journal | None,
        on_progress: Callable[[RowOutcome], object] | None,
        rate: float | None,
        max_attempts: int,
        max_rounds: int,
        reconcile_batch: int,
        sleep: Sleep,
        clock: Callable[[], float],
        shard: tuple[int, int] | None,
    ) -> None:
        self.client = client
        self.shard = shard
        self.concurrency = concurrency
        self.journal = journal
        self.on_progress = on_progress
        self.max_attempts = max_attempts
        self.max_rounds = max_rounds
        self.reconcile_batch = reconcile_batch
        self.pause = Pause(clock=clock, sleep=sleep)
        self.rate = RateLimit(rate, clock=clock, sleep=sleep) if rate else None
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=concurrency)
        self.pending: list[_Item] = []
        self.counts: Counter[str] = Counter()

    # -- the main task: feed rows, reconcile unclear ones, drain ---------------------

    async def run(self, rows: Iterable[Any] | AsyncIterable[Any]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                workers = [group.create_task(self._worker()) for _ in range(self.concurrency)]
                await self._feed(rows)
                await self.queue.join()
                while self.pending:
                    await self._reconcile()
                    await self.queue.join()
                for _ in workers:
                    await self.queue.put(None)
        except BaseExceptionGroup as group:
            # Report the error that stopped the import, not the group wrapping it.
            raise group.exceptions[0] from None

    async def _feed(self, rows: Iterable[Any] | AsyncIterable[Any]) -> None:
        previous = 0
        async for row in _items(rows):
            if isinstance(row, NewCustomer):
                line = previous + 1
                item: _Item | RowError = _Item(line, row, customer_key(row))
            elif isinstance(row, Row):
                line = row.line
                item = _Item(line, row.customer, customer_key(row.customer))
            elif isinstance(row, RowError):
                line, item = row.line, row
            else:
                raise TypeError(
                    "rows must be NewCustomer, Row or RowError items, "
                    f"got {type(row).__name__} after line {previous}"
                )
            if line <= previous:
                raise ValueError(f"row lines must increase: line {line} came after {previous}")
            previous = line
            if self.shard is not None and not in_shard(line, self.shard):
                continue
            self.counts["total"] += 1
            if self._resumed(item):
                continue
            if isinstance(item, RowError):
                errors = {"base": [item.message]}
                self._finish(line, "rejected", message=item.message, errors=errors)
                continue
            if self.journal is not None and self.journal.state(line) in (SENT, FAILED):
                self._check_resumed_key(item)
                item.journaled = True
                self.pending.append(item)  # it may have been created: reconcile first
            else:
                await self.queue.put(item)
            if len(self.pending) >= self.reconcile_batch:
                await self._reconcile()

    def _resumed(self, item: _Item | RowError) -> bool:
        """Count a row an earlier run finished (created or rejected) and skip it."""
        if self.journal is None:
            return False
        state = self.journal.state(item.line)
        if state not in (CREATED, REJECTED):
            return False
        status: Status = "created" if state == CREATED else "rejected"
        self.counts[status] += 1
        self.counts["resumed"] += 1
        if self.on_progress is not None:
            self.on_progress(RowOutcome(line=item.line, status=status, resumed=True))
        return True

    def _check_resumed_key(self, item: _Item) -> None:
        assert self.journal is not None
        recorded = self.journal.sent_key(item.line)
        if recorded is not None and recorded != key_hash(item.key):
            raise JournalError(
                f"journal {self.journal.path}: input line {item.line} is not the row that was "
                "sent from it; the input changed since the journal was written"
            )

    # -- workers: one create at a time each --------------------------------------------

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is None:
                    return
                await self._create(item)
            finally:
                self.queue.task_done()

    async def _create(self, item: _Item) -> None:
        while True:
            generation = await self._wait_turn()
            if self.journal is not None and not item.journaled:
                self.journal.sent(item.line, key_hash(item.key))
                item.journaled = True
            try:
                created = await self.client.customers.create(item.customer)
            except EcomChargeError as exc:
                verdict = classify(exc)
                item.error = exc
                if verdict == "fatal":
                    raise
                if isinstance(exc, ValidationError):
                    self._finish(
                        item.line, "rejected", item, errors=exc.errors, message=exc.message
                    )
                    return
                if verdict == "retry":
                    item.attempts += 1
                    if item.attempts < self.max_attempts:
                        retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                        self.pause.trip(generation, retry_after)
                        continue
                elif verdict == "unclear" and item.rounds < self.max_rounds:
                    self.pending.append(item)
                    return
                self._finish(item.line, "failed", item, message=_describe(exc))
                return
            self.pause.clear()
            self._finish(item.line, "created", item, customer_id=created.id)
            return

    async def _wait_turn(self) -> int:
        generation = await self.pause.wait()
        if self.rate is not None:
            await self.rate.acquire()
        return generation

    # -- reconciliation ------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Settle the rows held aside: created if the shop holds them, else send again."""
        batch, self.pending = self.pending, []
        try:
            found = await self._scan_shop(Counter(item.key for item in batch))
        except AuthenticationError:
            raise
        except EcomChargeError as exc:
            for item in batch:
                item.rounds += 1
                item.error = exc
                if item.rounds >= self.max_rounds:
                    message = f"could not check whether it was created: {_describe(exc)}"
                    self._finish(item.line, "failed", item, message=message)
                else:
                    self.pending.append(item)
            return
        for item in batch:
            ids = found.get(item.key)
            if ids:
                self._finish(item.line, "created", item, customer_id=ids.pop(), reconciled=True)
            else:
                item.rounds += 1
                await self.queue.put(item)

    async def _scan_shop(self, wanted: Counter[Key]) -> dict[Key, list[str]]:
        """Stream the shop past a matcher; a broken stream is read again from the start."""
        attempt = 0
        while True:
            generation = await self._wait_turn()
            matcher = ShopMatcher(wanted)
            try:
                async with contextlib.aclosing(self.client.customers.iter()) as shop:
                    async for customer in shop:
                        matcher.offer(customer)
            except EcomChargeError as exc:
                attempt += 1
                if isinstance(exc, AuthenticationError) or attempt >= self.max_attempts:
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                self.pause.trip(generation, retry_after)
                continue
            self.pause.clear()
            return matcher.found

    # -- outcomes ------------------------------------------------------------------

    def _finish(
        self,
        line: int,
        status: Status,
        item: _Item | None = None,
        *,
        customer_id: str | None = None,
        errors: dict[str, Any] | None = None,
        message: str | None = None,
        reconciled: bool = False,
    ) -> None:
        if self.journal is not None:
            self.journal.done(line, status, customer_id)
        self.counts[status] += 1
        if reconciled:
            self.counts["reconciled"] += 1
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


async def import_customers(
    client: Client,
    rows: Iterable[NewCustomer | Row | RowError] | AsyncIterable[NewCustomer | Row | RowError],
    *,
    concurrency: int = 16,
    journal: str | Path | None = None,
    on_progress: Callable[[RowOutcome], object] | None = None,
    rate: float | None = None,
    input_id: str | None = None,
    max_attempts: int = 8,
    max_rounds: int = 8,
    reconcile_batch: int = 1000,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    shard: tuple[int, int] | None = None,
) -> ImportReport:
    """Create one customer per row, each exactly once; return the counts.

    `rows` yields `NewCustomer` (numbered 1, 2, ... in order), `Row(line,
    customer)` or `RowError(line, message)` (counted as rejected), from a plain
    or an async iterable, read lazily: memory stays O(concurrency + reconcile_batch).
    Every row ends `created`, `rejected` (422, or a `RowError`) or `failed`,
    reported to `on_progress` as it happens.

    - Refused connections, 408, 429 and 503 pause the whole import (429 for its
      `Retry-After`, otherwise 0.25 s doubling to 8 s), then the row is sent
      again, up to `max_attempts` times.
    - A create that may have reached the API is reconciled against the shop's
      list (one list per `reconcile_batch` such rows), for up to `max_rounds` rounds.
    - `rate` caps requests per second. `journal` (a path) makes the import
      resumable: run again with the same journal to finish an interrupted import;
      `input_id` (e.g. a fingerprint of the input file) guards against resuming
      with a different input.
    - `shard=(k, n)` imports only this worker's slice of the rows, the lines
      `line % n == k` (0 <= k < n, as Kubernetes' JOB_COMPLETION_INDEX), so n
      workers given the same input split it with no overlap; give each its own
      journal. `total` then counts the shard's rows.
    - `AuthenticationError` stops the import and is raised.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive requests per second, got {rate}")
    if max_attempts < 1 or max_rounds < 1 or reconcile_batch < 1:
        raise ValueError("max_attempts, max_rounds and reconcile_batch must be at least 1")
    if shard is not None:
        check_shard(shard)
    started = clock()
    opened = (
        Journal(
            journal,
            shop_id=client.shop_id,
            base_url=client.base_url,
            input_id=input_id,
            shard=shard,
        )
        if journal is not None
        else None
    )
    importer = _Importer(
        client,
        concurrency=concurrency,
        journal=opened,
        on_progress=on_progress,
        rate=rate,
        max_attempts=max_attempts,
        max_rounds=max_rounds,
        reconcile_batch=reconcile_batch,
        sleep=sleep,
        clock=clock,
        shard=shard,
    )
    try:
        await importer.run(rows)
    finally:
        if opened is not None:
            opened.close()
    counts = importer.counts
    return ImportReport(
        total=counts["total"],
        created=counts["created"],
        rejected=counts["rejected"],
        failed=counts["failed"],
        resumed=counts["resumed"],
        reconciled=counts["reconciled"],
        elapsed=clock() - started,
    )
