"""What one queued shard task does on a worker, without Celery: claim the shard, import it.

A task queue may run two copies of one shard at once (a copy requeued after a
broker's visibility timeout while the original still runs). The shard's journal
is the lock: the copy that cannot take it raises `ShardBusy` and is retried
later, so a shard is never imported twice in parallel. The failures file is
emptied only while the journal is held and still empty (a fresh shard); every
copy then appends, so a resumed copy never erases what an earlier one wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from .._core.client import Client
from ._counts import Counts, ImportReport, Tally
from ._errors import InputError
from ._failures import FailuresFile
from ._job import ImportJob
from ._journal import JournalInUse
from ._journal_lock import lock
from ._row import RowOutcome
from ._rows import RowReader
from ._scan import scan_input
from ._settings import ImportSettings

#: How often a running shard reports its counts (seconds).
PROGRESS_EVERY = 0.5


class ShardBusy(Exception):
    """Another process holds this shard's journal: try again later, never in parallel."""


@contextlib.contextmanager
def _holding(journal: str) -> Iterator[bool]:
    """Hold the journal's own lock; yield whether the journal is still empty."""
    with open(journal, "a+b") as file:
        if not lock(file):
            raise ShardBusy(f"journal {journal} is in use by another copy")
        yield os.fstat(file.fileno()).st_size == 0


def claim_shard(journal: str, failures: str | None) -> None:
    """Raise `ShardBusy` if another copy runs the shard; empty `failures` for a fresh one."""
    with _holding(journal) as fresh:
        if failures is not None and fresh:
            open(failures, "w").close()  # truncated under the lock


def run_shard(
    path: str,
    settings: ImportSettings,
    *,
    journal: str,
    failures: str | None = None,
    input_id: str | None = None,
    on_counts: Callable[[Counts], object] | None = None,
) -> dict[str, Any]:
    """Import shard `settings.shard` of `path` with credentials from ECOMCHARGE_*; its report.

    Raises `ShardBusy` while another copy holds the journal, `InputError` when
    this worker sees another file than `input_id` (the fingerprint the
    enqueuing side read), and whatever the import raises.
    """
    if settings.shard is None:
        raise ValueError("run_shard needs the shard to import: settings.shard=(k, n)")
    claim_shard(journal, failures)  # first: a refused copy does not read the whole input
    scan = scan_input(path)
    if input_id is not None and scan.fingerprint != input_id:
        raise InputError(
            f"{path} on this worker is not the file that was enqueued (its content "
            "differs): the input must be on storage every worker reaches"
        )
    with RowReader(path) as reader:
        report, shop_id, base_url = asyncio.run(
            _import(reader, settings, journal, failures, scan.fingerprint, on_counts)
        )
    result: dict[str, Any] = attrs.asdict(report)
    result.update(shard=settings.shard[0], shards=settings.shard[1])
    result.update(shop_id=shop_id, base_url=base_url, journal=journal, failures=failures)
    return result


async def _import(
    reader: RowReader,
    settings: ImportSettings,
    journal: str,
    failures: str | None,
    input_id: str,
    on_counts: Callable[[Counts], object] | None,
) -> tuple[ImportReport, str, str]:
    # Imported here, when a shard runs: importing bulk loads no HTTP library.
    from .._transports.aiohttp_transport import AiohttpTransport

    # Each shard's limiter adapts on its own; retry=None: the importer retries itself,
    # pausing the whole shard on overload.
    transport = AiohttpTransport(timeout=None, limit=max(100, settings.most_in_flight))
    client = Client(transport=transport, retry=None)
    written = FailuresFile(failures, append=True) if failures is not None else None
    tally = Tally()
    reported_at = time.monotonic()

    def on_progress(outcome: RowOutcome) -> None:
        nonlocal reported_at
        if written is not None:
            written.write(outcome)  # only ever called while the journal is held
        tally.add(outcome)
        now = time.monotonic()
        if on_counts is not None and now - reported_at >= PROGRESS_EVERY:
            reported_at = now
            on_counts(tally.counts())

    try:
        async with client:
            job = ImportJob(client, settings, journal=journal, input_id=input_id)
            with contextlib.closing(job):
                report = await job.run(reader, on_progress)
    except JournalInUse as exc:  # another copy took it between our claim and now
        raise ShardBusy(str(exc)) from None
    finally:
        if written is not None:
            written.close()
    return report, client.shop_id, client.base_url
