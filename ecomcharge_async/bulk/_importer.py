"""The bulk-import engine behind `bulk.import_customers`: workers, reconciliation, outcomes.

One feeder reads the rows lazily into a bounded queue; workers create one customer at a
time each, as the limiter lets them; rows whose create may have landed are held aside and
settled against the shop (`_reconcile.ShopMatcher`), with no create in flight, so that every
customer this import was told it created is known (`Ledger.created_ids`, a Bloom filter of
ids) and is never credited to another row.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any

from .._core.client import Client
from .._core.errors import AuthenticationError, EcomChargeError, RateLimitError, ValidationError
from .._core.logs import logger
from .._core.policy import DEFAULT_RETRY
from .._core.verdict import waits_too_long
from ._bloom import BloomFilter
from ._counts import Tally
from ._journal import CREATED, REJECTED, Journal
from ._limiter import AdaptiveLimiter
from ._outcome import AMBIGUOUS, Item, Ledger, as_item, describe, feed_of, log_fields, log_retry
from ._pacing import Limiter, Pause, take_turn
from ._reconcile import classify, customer_hash
from ._row import RowOutcome, Status
from ._row_queue import RowQueue
from ._rows import RowError
from ._settings import ImportSettings
from ._shard import in_shard
from ._shop_scan import scan_shop
from ._slots import OK, OTHER, Outcome, outcome_of


class Importer:
    """One import's state: the queue, the rows held aside, the counts, the ids it created."""

    def __init__(
        self,
        client: Client,
        settings: ImportSettings,
        *,
        limiter: Limiter,
        journal: Journal | None,
        created: BloomFilter,
        on_progress: Callable[[RowOutcome], object] | None,
        tally: Tally | None = None,
    ) -> None:
        # The only retry layer: a one-attempt client on the caller's pool (theirs is unchanged).
        self.client = client.with_options(retry=None)
        self.shard = settings.shard
        self.limiter = limiter
        self.journal = journal
        self._resuming = journal is not None and journal.resumed  # else no row was recorded
        self.ledger = Ledger(journal, created, on_progress, tally)
        self.max_attempts = settings.max_attempts
        self.max_rounds = settings.max_rounds
        self.reconcile_batch = settings.reconcile_batch
        self.pause = Pause(clock=settings.clock, sleep=settings.sleep)
        # One meaning of max_retry_after: a longer Retry-After is not waited for.
        self.max_retry_after = (client.retry or DEFAULT_RETRY).max_retry_after
        # A 429 without Retry-After slows an adaptive limiter's pace instead of a pause.
        self.auto = isinstance(limiter, AdaptiveLimiter)
        self.queue: RowQueue[Item | None] = RowQueue(limiter.maximum)  # refilled once half-empty
        self.pending: list[Item] = []
        self.counts = self.ledger.counts
        self.workers = 0  # started as rows need them: a big maximum costs nothing
        self._free = 0  # workers started and not busy with a row
        self._group: asyncio.TaskGroup | None = None
        # What stopped the import (a 401, a full disk), raised once the creates in flight end.
        self.stop: Exception | None = None

    # -- the main task: feed rows, reconcile unclear ones, drain ---------------------

    async def run(self, rows: Iterable[Any] | AsyncIterable[Any]) -> None:
        """Import every row; a stop (bad input, a 401, a full disk) raises once the
        creates in flight have ended, so the counts say what the shop holds."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                try:
                    broke_off = await self._feed(rows)
                except Exception as exc:  # a row of the wrong type, a full disk: as a worker's
                    self.stop, broke_off = self.stop or exc, None
                await self.queue.join()
                while self.pending and self.stop is None:
                    await self._reconcile()
                    await self.queue.join()
                for _ in range(self.workers):
                    self.queue.put(None)
        except BaseExceptionGroup as group:
            # Report the error that stopped the import, not the group wrapping it.
            raise group.exceptions[0] from None
        if self.stop is not None:
            raise self.stop
        if broke_off is not None:
            raise broke_off

    async def _feed(self, rows: Iterable[Any] | AsyncIterable[Any]) -> Exception | None:
        """Queue the rows; return the error the input broke off with, if it did."""
        previous = 0
        source = feed_of(rows)
        while self.stop is None:
            try:
                row = await anext(source)
            except StopAsyncIteration:
                return None
            except (OSError, ValueError) as exc:  # unreadable input (InputError is a ValueError)
                return exc
            item = row if type(row) is Item else as_item(row, previous)
            line = previous = item.line
            if self.shard is not None and not in_shard(line, self.shard):
                continue
            self.counts.total += 1
            if isinstance(item, RowError):
                errors = {"base": [item.message]}
                self.ledger.finish(line, "rejected", message=item.message, errors=errors)
                continue
            if self.journal is not None:
                item.hash = customer_hash(item.customer)
                if self._resuming and self._recorded(item):
                    continue
            if not self._put(item):
                await self._put_later(item)
            if len(self.pending) >= self.reconcile_batch:
                # Creates in flight end first: one stored, unanswered, looks like a held row's.
                await self.queue.join()
                if self.stop is None:
                    await self._reconcile()
        return None

    def _recorded(self, item: Item) -> bool:
        """Whether an earlier run sent the row: counted if it finished, else held to settle."""
        assert self.journal is not None
        assert item.hash is not None
        recorded = self.journal.claim(item.hash)
        if recorded is None:
            return False
        item.row, state = recorded
        if state not in (CREATED, REJECTED):
            self.pending.append(item)  # it may have been created: reconcile first
            return True
        status: Status = "created" if state == CREATED else "rejected"
        self.ledger.resumed(item.line, status)
        return True

    # -- workers: one create at a time each --------------------------------------------

    def _put(self, item: Item) -> bool:
        """Queue a row if there is room (a worker hired if it needs one); False if full.
        No coroutine: the feeder queues most rows so, without waiting (else `_put_later`)."""
        queue = self.queue
        if self.workers < self.limiter.limit and len(queue.items) >= self._free:
            self._hire()  # the rows queued, this one too, outnumber the free workers
        if len(queue.items) >= queue.maxsize:  # full
            return False
        queue.put(item)
        return True

    async def _put_later(self, item: Item) -> None:
        """Queue a row once the full queue was half taken."""
        await self.queue.room()
        self.queue.put(item)

    def _hire(self) -> None:
        """Start a worker (the caller checked that rows wait and the limiter lets)."""
        assert self._group is not None
        self.workers += 1
        self._free += 1
        self._group.create_task(self._worker())

    async def _worker(self) -> None:
        """Create the queued rows one at a time, each row's attempts in this loop: no
        coroutine a row between it and the request's (made, resumed at each wake-up, freed)."""
        queue, limiter, pause, journal = self.queue, self.limiter, self.pause, self.journal
        create, created_row = self.client.customers.create, self.ledger.created_row
        while self.workers <= limiter.limit:  # past a cut limit one fewer waits for it
            item = queue.take() if queue.items else await queue.get()  # no coroutine
            try:
                if item is None:
                    return
                self._free -= 1
                if self.workers < limiter.limit and len(queue.items) > self._free:
                    self._hire()  # the limit grew while the feeder waits for room
                try:
                    while True:  # one attempt a turn
                        generation = pause.generation
                        # No pause on, a free slot, no pace: the turn is taken without a wait.
                        token = None if pause.until and not pause.over() else limiter.acquire_now()
                        if token is None:
                            generation, token = await take_turn(pause, limiter)
                        outcome = OTHER  # what a cancellation or a journal error releases with
                        if self.stop is not None:
                            limiter.release(token, outcome)
                            break  # not sent now: the journal (if any) holds it for the next run
                        try:
                            if journal is not None and item.row is None:
                                assert item.hash is not None
                                item.row = journal.sent(item.line, item.hash)
                            customer = await create(item.customer)
                            outcome = OK
                        except EcomChargeError as exc:
                            outcome = outcome_of(exc)
                            if self._again(item, exc, outcome, generation):
                                continue
                            break
                        finally:
                            limiter.release(token, outcome)
                        if pause.streak:
                            pause.clear()
                        created_row(item, customer.id)
                        break
                except Exception as exc:  # the import stops; the other workers end their rows
                    self.stop = self.stop or exc
                finally:
                    self._free += 1
            finally:
                queue.task_done()
        self.workers -= 1
        self._free -= 1

    def _again(self, item: Item, exc: EcomChargeError, outcome: Outcome, generation: int) -> bool:
        """Whether a failed create is sent again (the import paused or paced first); else
        the row ended, rejected or failed, or was held to reconcile. A fatal error raises."""
        fate = classify(exc)
        item.error = exc
        if fate == "fatal":
            raise exc
        if isinstance(exc, ValidationError):
            self.ledger.finish(item.line, "rejected", item, errors=exc.errors, message=exc.message)
            return False
        if fate == "retry":
            item.attempts += 1
            retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
            if item.attempts < self.max_attempts and not waits_too_long(
                retry_after, self.max_retry_after
            ):
                paced = self.auto and outcome is Outcome.RATE_LIMITED and not retry_after
                if not paced:
                    self.pause.trip(generation, retry_after)
                log_retry(item, exc, paced, self.max_attempts)
                return True
        elif fate == "unclear" and item.rounds < self.max_rounds:
            self.pending.append(item)
            return False
        logger.warning(
            "line %d failed: %s", item.line, type(exc).__name__, extra=log_fields(item, exc)
        )
        self.ledger.finish(item.line, "failed", item, message=describe(exc))
        return False

    # -- reconciliation ------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Settle the rows held aside: created if the shop holds them, else send again."""
        created = self.ledger.created_ids()  # before the batch is taken: it may raise
        batch, self.pending = self.pending, []
        rows = len(batch)
        logger.info(
            "reconciling %d row(s) whose create may have landed", rows, extra={"rows": rows}
        )
        try:
            matcher = await scan_shop(
                self.client,
                Counter(item.key for item in batch),
                created,  # with a journal, read back from it first
                pause=self.pause,
                limiter=self.limiter,
                max_attempts=self.max_attempts,
                max_retry_after=self.max_retry_after,
            )
        except AuthenticationError:
            raise
        except EcomChargeError as exc:
            for item in batch:
                item.rounds += 1
                item.error = exc
                if item.rounds >= self.max_rounds:
                    message = f"could not check whether it was created: {describe(exc)}"
                    self.ledger.finish(item.line, "failed", item, message=message)
                else:
                    self.pending.append(item)
            return
        for item in batch:
            match, customer_id = matcher.claim(item.key)
            if match == "found":
                assert customer_id is not None
                self.ledger.created_row(item, customer_id, reconciled=True)
            elif match == "ambiguous":
                self.ledger.finish(
                    item.line, "failed", item, message=AMBIGUOUS.format(id=customer_id)
                )
            else:
                item.rounds += 1
                if not self._put(item):
                    await self._put_later(item)
