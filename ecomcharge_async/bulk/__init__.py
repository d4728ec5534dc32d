"""Bulk customer import: bounded concurrency, streaming, resumable, exactly once.

`import_customers(client, rows)` creates one customer per row. A create that may
have reached the API without an answer (a timeout, a dropped connection, 500,
502, 504) is never sent again blindly: such rows are held aside and reconciled
against the shop, streamed with `client.customers.iter()` so memory stays
O(concurrency + rows held aside) whatever the shop's size, matching on every
sent field, and only those the shop does not hold are created again.

The API has no idempotency key, so a customer is recognised by its fields. The
import remembers the id of every customer it created (a Bloom filter, about 2
bytes per row) and never credits one of those to another row: a held row whose
only identical customers may be other rows' fails with a message saying so,
rather than being reported created or sent again. An identical customer from
outside the import (an earlier import, another source) still counts as a match.
The engine is in `_importer.py`; this module is its public face.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Literal

# The names imported `as` themselves are importable from here but not public (not in
# __all__ nor in the API reference): reconciliation's internal decisions, and what the
# command line and the Celery app build on, so those layers import no private module.
from .._core.client import Client
from .._core.models import NewCustomer
from ._counts import Counts, ImportReport, Tally
from ._errors import InputError
from ._failures import FailuresFile as FailuresFile
from ._job import ImportJob as ImportJob
from ._journal import JournalError
from ._limiter import MAX_LIMIT
from ._reconcile import classify as classify
from ._reconcile import customer_key
from ._reconcile import match_customers as match_customers
from ._row import RowOutcome
from ._rows import Row, RowError, RowReader
from ._rows import is_stream as is_stream
from ._scan import scan_input as scan_input
from ._settings import ImportSettings as ImportSettings
from ._shard import parse_shard as parse_shard
from ._shard_task import ShardBusy as ShardBusy
from ._shard_task import run_shard as run_shard
from ._slots import Sleep

__all__ = [
    "Counts",
    "ImportReport",
    "InputError",
    "JournalError",
    "Row",
    "RowError",
    "RowOutcome",
    "RowReader",
    "Tally",
    "customer_key",
    "import_customers",
]


async def import_customers(
    client: Client,
    rows: Iterable[NewCustomer | Row | RowError] | AsyncIterable[NewCustomer | Row | RowError],
    *,
    concurrency: int | Literal["auto"] = "auto",
    max_concurrency: int = MAX_LIMIT,
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
    or an async iterable, read lazily: memory stays O(concurrency + reconcile_batch),
    plus about 2 bytes per customer created (the ids it created, in a Bloom filter).
    Every row ends `created`, `rejected` (422, or a `RowError`) or `failed`,
    reported to `on_progress` as it happens.

    - Refused connections, 408, 429 and 503 pause the whole import (429 for its
      `Retry-After`, otherwise 0.25 s doubling to 8 s), then the row is sent
      again, up to `max_attempts` times.
    - A create that may have reached the API is reconciled against the shop's
      list (one list per `reconcile_batch` such rows), for up to `max_rounds` rounds.
      A customer identical to the row that this import created for another row
      is never credited to it: if only such customers match, the row fails
      ("not created again to avoid a duplicate: check it").
    - The import is the only retry layer: it works on a single-attempt copy of
      `client` (`client.with_options(retry=None)`, sharing its pool), so the
      client's own `RetryPolicy` does not multiply the attempts; `client`
      itself is left as it is. Creates that may have landed are never replayed.
    - `concurrency="auto"` (the default) finds how many creates to keep in
      flight and how fast to send them: it starts at 8, grows while answers
      come back in time, halves on 503, 408 and timeouts, and on 429 without
      `Retry-After` paces sends just below the rate the API accepted (probing
      upward now and then) rather than pausing; never above `max_concurrency`.
      A number fixes the concurrency (a 429 then pauses the import). The
      report's `concurrency` is the highest limit reached.
    - `rate` caps requests per second. `journal` (a path) makes the import
      resumable: run again with the same journal to finish an interrupted import.
      Rows are matched to the journal by content, so an edited input (a rejected
      row fixed) resumes too: rows created before are not sent again, rejected
      rows are not sent again unless edited, failed ones are tried again.
      `input_id` (e.g. a fingerprint of the input file) is recorded per run; a
      different one from the last run's is logged as a warning.
    - `shard=(k, n)` imports only this worker's slice of the rows, the lines
      `line % n == k` (0 <= k < n, as Kubernetes' JOB_COMPLETION_INDEX), so n
      workers given the same input split it with no overlap; give each its own
      journal. `total` then counts the shard's rows.
    - `AuthenticationError` stops the import and is raised.
    - A plain iterable is read on the event loop; a `RowReader` of stdin or a
      pipe is read in a thread of its own (`async for`), so a quiet pipe
      freezes no create in flight. Give your own source that may wait on I/O
      as an async iterable.
    """
    settings = ImportSettings(
        concurrency=concurrency,
        max_concurrency=max_concurrency,
        rate=rate,
        max_attempts=max_attempts,
        max_rounds=max_rounds,
        reconcile_batch=reconcile_batch,
        shard=shard,
        sleep=sleep,
        clock=clock,
    )
    # The journal (an open file and its lock) is closed whatever happens next.
    with contextlib.closing(ImportJob(client, settings, journal=journal, input_id=input_id)) as job:
        return await job.run(rows, on_progress)
