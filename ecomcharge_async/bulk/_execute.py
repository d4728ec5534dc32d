"""One import run over an open journal (or none): the engine started, the counts returned.

`import_customers` opens the journal from a path; the CLI opens it itself (to
name it, and to say when the input changed) and calls `execute` directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import attrs

from .._core.client import Client
from ._bloom import BloomFilter
from ._importer import Importer, Sleep
from ._journal import Journal
from ._limiter import AdaptiveLimiter, FixedLimiter
from ._outcome import RowOutcome


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import did, as counts: `created + rejected + failed == total`.

    `resumed` of those rows were finished by an earlier run (read from the
    journal); `reconciled` were found in the shop after an unclear failure.
    `concurrency` is the most requests the import let be in flight at once
    (with `concurrency="auto"`, the highest limit it reached).
    """

    total: int
    created: int
    rejected: int
    failed: int
    resumed: int = 0
    reconciled: int = 0
    elapsed: float = 0.0
    concurrency: int = 0

    @property
    def ok(self) -> bool:
        """True when every row was created."""
        return self.rejected == 0 and self.failed == 0


def make_limiter(
    concurrency: int | Literal["auto"],
    *,
    max_concurrency: int,
    rate: float | None,
    sleep: Sleep,
    clock: Callable[[], float],
) -> AdaptiveLimiter | FixedLimiter:
    """The limiter for `concurrency` ("auto" or a number); `rate` caps requests per second."""
    if concurrency == "auto":
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        return AdaptiveLimiter(maximum=max_concurrency, max_rate=rate, clock=clock, sleep=sleep)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise ValueError(f'concurrency must be "auto" or a whole number, got {concurrency!r}')
    return FixedLimiter(concurrency, rate=rate, clock=clock, sleep=sleep)


async def execute(
    client: Client,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    journal: Journal | None,
    created: BloomFilter,
    limiter: AdaptiveLimiter | FixedLimiter,
    on_progress: Callable[[RowOutcome], object] | None,
    max_attempts: int,
    max_rounds: int,
    reconcile_batch: int,
    sleep: Sleep,
    clock: Callable[[], float],
    shard: tuple[int, int] | None,
) -> ImportReport:
    """Run the import; `created` holds the ids of the customers the journal says are taken."""
    started = clock()
    importer = Importer(
        client,
        limiter=limiter,
        journal=journal,
        created=created,
        on_progress=on_progress,
        max_attempts=max_attempts,
        max_rounds=max_rounds,
        reconcile_batch=reconcile_batch,
        sleep=sleep,
        clock=clock,
        shard=shard,
    )
    await importer.run(rows)
    if journal is not None:
        journal.flush()  # the last outcomes, or the error that kept one from the file
    counts = importer.counts
    return ImportReport(
        total=counts["total"],
        created=counts["created"],
        rejected=counts["rejected"],
        failed=counts["failed"],
        resumed=counts["resumed"],
        reconciled=counts["reconciled"],
        elapsed=clock() - started,
        concurrency=limiter.peak,
    )


def open_journal(
    path: str | Path,
    client: Client,
    *,
    input_id: str | None,
    shard: tuple[int, int] | None,
    created: BloomFilter,
) -> Journal:
    """The import's journal, its created customers added to `created` as it is read."""
    return Journal(
        path,
        shop_id=client.shop_id,
        base_url=client.base_url,
        input_id=input_id,
        shard=shard,
        on_created=created.add,  # customers earlier runs created stay theirs
    )
