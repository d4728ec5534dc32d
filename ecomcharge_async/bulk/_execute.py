"""One import run over an open journal (or none): the engine started, the counts returned.

`import_customers` opens the journal from a path; the CLI opens it itself (to
name it, and to say when the input changed) and calls `execute` directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from .._core.client import Client
from ._bloom import BloomFilter
from ._importer import Importer, Sleep
from ._journal import Journal
from ._outcome import RowOutcome


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


async def execute(
    client: Client,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    journal: Journal | None,
    created: BloomFilter,
    concurrency: int,
    on_progress: Callable[[RowOutcome], object] | None,
    rate: float | None,
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
        concurrency=concurrency,
        journal=journal,
        created=created,
        on_progress=on_progress,
        rate=rate,
        max_attempts=max_attempts,
        max_rounds=max_rounds,
        reconcile_batch=reconcile_batch,
        sleep=sleep,
        clock=clock,
        shard=shard,
    )
    await importer.run(rows)
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
