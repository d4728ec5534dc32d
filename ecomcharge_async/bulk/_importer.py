"""The bulk-import engine behind `bulk.import_customers`: workers, reconciliation, outcomes.

One feeder reads the rows lazily into a bounded queue; `concurrency` workers
create one customer at a time each; rows whose create may have landed are held
aside and settled against the shop (`_reconcile.ShopMatcher`), with no create
in flight, so that every customer this import was told it created is known
(`created`, a Bloom filter of ids) and is never credited to another row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, Literal

import attrs

from .._core.client import Client
from .._core.errors import AuthenticationError, EcomChargeError, RateLimitError, ValidationError
from .._core.logs import logger, request_id
from .._core.models import NewCustomer
from .._core.policy import DEFAULT_RETRY
from .._core.verdict import waits_too_long
from ._bloom import BloomFilter
from ._journal import CREATED, FAILED, REJECTED, SENT, Journal, JournalError
from ._pacing import Pause, RateLimit
from ._reconcile import Key, ShopMatcher, classify, customer_key, key_hash
from ._rows import Row, RowError
from ._shard import in_shard

Status = Literal["created", "rejected", "failed"]
Sleep = Callable[[float], Awaitable[Any]]

#: Why a held row whose identical customers may all belong to other rows is not sent again.
AMBIGUOUS = (
    "an identical customer exists ({id}) that another row of this import may have "
    "created; not created again to avoid a duplicate: check it"
)


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


def _fields(item: _Item, exc: EcomChargeError) -> dict[str, Any]:
    """An import log record's fields: the line and the error, never the row's values."""
    return {
        "method": "POST",
        "path": "/customers",
        "status": getattr(exc, "status", None),
        "attempt": max(item.attempts, 1),
        "line": item.line,
        "error": type(exc).__name__,
        "request_id": request_id(exc),
    }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _items(rows: Iterable[Any] | AsyncIterable[Any]) -> Any:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


class Importer:
    """One import's state: the queue, the rows held aside, the counts, the ids it created."""

    def __init__(
        self,
        client: Client,
        *,
        concurrency: int,
        journal: Journal | None,
        created: BloomFilter,
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
        self.created = created
        self.on_progress = on_progress
        self.max_attempts = max_attempts
        self.max_rounds = max_rounds
        self.reconcile_batch = reconcile_batch
        self.pause = Pause(clock=clock, sleep=sleep)
        # One meaning of max_retry_after: a longer Retry-After is not waited for.
        self.max_retry_after = (client.retry or DEFAULT_RETRY).max_retry_after
        self.rate = RateLimit(rate, clock=clock, sleep=sleep) if rate else None
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=concurrency)
        self.pending: list[_Item] = []
        self.counts: Counter[str] = Counter()
        # Workers start as rows need them, up to `concurrency`: a huge concurrency
        # on a small input costs nothing.
        self.workers = 0
        self._free = 0  # workers started and not busy with a row
        self._group: asyncio.TaskGroup | None = None

    # -- the main task: feed rows, reconcile unclear ones, drain ---------------------

    async def run(self, rows: Iterable[Any] | AsyncIterable[Any]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self._feed(rows)
                await self.queue.join()
                while self.pending:
                    await self._reconcile()
                    await self.queue.join()
                for _ in range(self.workers):
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
                await self._enqueue(item)
            if len(self.pending) >= self.reconcile_batch:
                # Let the creates in flight finish first: one stored but not yet
                # answered would look like a held row's own customer.
                await self.queue.join()
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

    async def _enqueue(self, item: _Item) -> None:
        """Queue a row for the workers, starting one if every worker has a row already."""
        if self.queue.qsize() >= self._free and self.workers < self.concurrency:
            assert self._group is not None
            self.workers += 1
            self._free += 1
            self._group.create_task(self._worker())
        await self.queue.put(item)

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is None:
                    return
                self._free -= 1
                try:
                    await self._create(item)
                finally:
                    self._free += 1
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
                    retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                    if item.attempts < self.max_attempts and not waits_too_long(
                        retry_after, self.max_retry_after
                    ):
                        self.pause.trip(generation, retry_after)
                        logger.info(
                            "line %d: %s; pausing the import, then attempt %d of %d",
                            item.line,
                            type(exc).__name__,
                            item.attempts + 1,
                            self.max_attempts,
                            extra=_fields(item, exc),
                        )
                        continue
                elif verdict == "unclear" and item.rounds < self.max_rounds:
                    self.pending.append(item)
                    return
                logger.warning(
                    "line %d failed: %s", item.line, type(exc).__name__, extra=_fields(item, exc)
                )
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
        logger.info(
            "reconciling %d row(s) whose create may have landed",
            len(batch),
            extra={"method": "GET", "path": "/customers", "rows": len(batch)},
        )
        try:
            matcher = await self._scan_shop(Counter(item.key for item in batch))
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
            match, customer_id = matcher.claim(item.key)
            if match == "found":
                self._finish(item.line, "created", item, customer_id=customer_id, reconciled=True)
            elif match == "ambiguous":
                self._finish(item.line, "failed", item, message=AMBIGUOUS.format(id=customer_id))
            else:
                item.rounds += 1
                await self._enqueue(item)

    async def _scan_shop(self, wanted: Counter[Key]) -> ShopMatcher:
        """Stream the shop past a matcher; a broken stream is read again from the start."""
        attempt = 0
        while True:
            generation = await self._wait_turn()
            matcher = ShopMatcher(wanted, self.created)
            try:
                async with contextlib.aclosing(self.client.customers.iter()) as shop:
                    async for customer in shop:
                        matcher.offer(customer)
            except EcomChargeError as exc:
                attempt += 1
                retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                if (
                    isinstance(exc, AuthenticationError)
                    or attempt >= self.max_attempts
                    or waits_too_long(retry_after, self.max_retry_after)
                ):
                    raise
                self.pause.trip(generation, retry_after)
                continue
            self.pause.clear()
            return matcher

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
        if customer_id is not None:
            self.created.add(customer_id)  # this row's customer: no other row may claim it
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
