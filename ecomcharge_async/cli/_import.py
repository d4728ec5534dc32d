"""The import command's run: the client, the signals, the stops, and how it ended.

`cli.import_command` checks the options and the input, then runs `run_import`
in an event loop; what comes back (`Ending`) decides the exit status, the line
on stderr and the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from typing import Any, TextIO

import attrs

from .._core.client import Client
from .._core.errors import AuthenticationError
from .._core.logs import logger
from .._transports.aiohttp_transport import AiohttpTransport
from ..bulk import ImportReport, RowOutcome
from ..bulk._bloom import BloomFilter
from ..bulk._execute import execute, make_limiter
from ..bulk._execute import open_journal as open_bulk_journal
from ..bulk._failures import FailuresFile
from ..bulk._journal import Journal
from ..bulk._rows import InputError, RowReader
from ..testing import FakeEcomCharge
from ..testing._backend import DEMO_SECRET, DEMO_SHOP_ID
from ._files import Tally
from ._progress import ProgressBar, ProgressLines
from ._reach import ReachWatch
from ._run import ImportRun


class UsageError(Exception):
    """A configuration the import cannot start with: one line, exit status 2."""


#: How long connection failures may go on once the API has answered (see --connect-deadline).
LATER_CONNECT_DEADLINE = 300.0
#: The longest a single connection attempt may take.
CONNECT_TIMEOUT = 10.0


def pool_size(concurrency: int | str, max_concurrency: int) -> int:
    """The most connections the import may hold: its most requests in flight."""
    return concurrency if isinstance(concurrency, int) else max_concurrency


def make_client(args: argparse.Namespace, watch: ReachWatch | None) -> tuple[Client, str]:
    """The client the import uses, and how the summary names its shop."""
    if args.fake:
        fake = FakeEcomCharge(shop_id=DEMO_SHOP_ID, secret_key=DEMO_SECRET, seed=361)
        client = Client(DEMO_SHOP_ID, DEMO_SECRET, transport=fake.transport(), retry=None)
        return client, f"the embedded fake shop {DEMO_SHOP_ID}"
    try:
        # The session is created on first use, so a refused configuration leaks nothing.
        transport = AiohttpTransport(
            timeout=None,
            connect_timeout=min(CONNECT_TIMEOUT, args.connect_deadline),
            limit=max(100, pool_size(args.concurrency, args.max_concurrency)),
        )
        # retry=None: the importer retries itself, pausing the whole import on overload.
        client = Client(
            base_url=args.base_url,
            transport=transport,
            retry=None,
            middleware=[watch] if watch is not None else [],
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{exc} (from --base-url or the ECOMCHARGE_* variables)") from None
    return client, f"shop {client.shop_id} at {client.base_url}"


#: SIGINT (Ctrl-C) and SIGTERM (Kubernetes, systemd) stop an import cleanly: 128 + signal.
_STOP_SIGNALS = ((signal.SIGINT, 130), (signal.SIGTERM, 143))


def _on_signal(
    run: ImportRun, signum: signal.Signals, code: int, grace: float, stderr: TextIO
) -> None:
    what = "interrupted by" if signum == signal.SIGINT else "stopped by"
    if run.taking_rows:
        print(
            f"ecomcharge import: {signum.name}: taking no more rows; finishing the rows in "
            f"flight for up to {grace:g} s (send it again to stop at once)",
            file=stderr,
            flush=True,
        )
    run.stop(code, signum.name, f"{what} {signum.name}", grace=grace)


@attrs.define
class Ending:
    """How an import ended: exit status, a short reason, the line for stderr, the counts."""

    code: int
    reason: str
    message: str | None = None
    report: ImportReport | None = None


async def run_import(
    args: argparse.Namespace,
    reader: RowReader,
    input_id: str | None,
    total: int | None,
    stderr: TextIO,
    tally: Tally,
) -> Ending:
    run = ImportRun()
    watch = None
    if not args.fake:
        watch = ReachWatch(
            "",  # set below, once the client has checked and normalised it
            first_deadline=args.connect_deadline,
            later_deadline=max(LATER_CONNECT_DEADLINE, args.connect_deadline),
            on_stop=lambda line: run.abort(3, "unreachable", line),
        )
    client, _ = make_client(args, watch)
    if watch is not None:
        watch.base_url = client.base_url
    failures: FailuresFile | None = None
    bar: ProgressBar | None = None
    lines: ProgressLines | None = None
    printer: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()

    def on_progress(outcome: RowOutcome) -> None:
        tally.add(outcome)
        if failures is not None:
            failures.write(outcome)
        if bar is not None:
            bar.update(outcome)
        if lines is not None:
            lines.update(outcome)

    limiter = make_limiter(
        args.concurrency,
        max_concurrency=args.max_concurrency,
        rate=args.rate,
        sleep=ENGINE_DEFAULTS["sleep"],
        clock=ENGINE_DEFAULTS["clock"],
    )
    journal: Journal | None = None
    created = BloomFilter()
    sending = False
    try:  # everything opened from here on is closed in `finally`, whatever fails between
        if args.journal is not None:
            journal = open_journal(args, client, input_id, created, stderr)
        if args.failures:
            failures = FailuresFile(args.failures, append=journal is not None and journal.resumed)
        if not args.quiet:
            if stderr.isatty():
                bar = ProgressBar(stderr, total, concurrency=lambda: limiter.limit)
            else:
                lines = ProgressLines(
                    stderr, total, every=args.progress_every, concurrency=lambda: limiter.limit
                )
                printer = asyncio.create_task(lines.run())
        with contextlib.suppress(NotImplementedError):  # no loop signal handlers on Windows
            for signum, code in _STOP_SIGNALS:
                loop.add_signal_handler(signum, _on_signal, run, signum, code, args.grace, stderr)
        sending = True
        async with client:
            report = await run.run(
                execute(
                    client,
                    run.rows(reader),
                    journal=journal,
                    created=created,
                    limiter=limiter,
                    on_progress=on_progress,
                    shard=args.shard,
                    **ENGINE_DEFAULTS,
                )
            )
        if failures is not None and report is not None:
            failures.start()  # a fresh run with no failures still empties an old file
    except AuthenticationError as exc:
        message = f"the API refused the credentials ({exc.message}); nothing more was sent"
        return Ending(3, "credentials", message)
    except InputError as exc:  # the rows taken before the bad line were finished first
        return Ending(2, "input", f"{exc}; nothing after it was sent")
    except OSError as exc:
        if not sending or isinstance(exc, BrokenPipeError):
            raise  # nothing sent yet: a usage error (or a reader gone: ends quietly)
        where = f" {exc.filename}" if exc.filename else ""
        message = f"cannot write{where}: {exc.strerror or exc}; nothing more was sent"
        return Ending(2, "write", message)
    finally:
        with contextlib.suppress(NotImplementedError):
            for signum, _ in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)
        if printer is not None:
            printer.cancel()
            await asyncio.wait([printer])
        if watch is not None:
            watch.close()
        if bar is not None:
            bar.close()
        if failures is not None:
            failures.close()
        if journal is not None:
            journal.close()
    if run.code is not None:
        return Ending(run.code, run.reason or "stopped", run.message, report)
    assert report is not None
    reason = "completed" if report.ok else "rows rejected or failed"
    return Ending(0 if report.ok else 1, reason, None, report)


def open_journal(
    args: argparse.Namespace,
    client: Client,
    input_id: str | None,
    created: BloomFilter,
    stderr: TextIO,
) -> Journal:
    """Open this run's journal; say so when the input changed since its last run."""
    journal = open_bulk_journal(
        args.journal, client, input_id=input_id, shard=args.shard, created=created
    )
    logger.info("journal: %s", journal.path)
    if journal.input_changed:
        print(
            f"ecomcharge import: {args.path} changed since the journal's last run; resuming "
            "by row content (rows created before are not sent again)",
            file=stderr,
            flush=True,
        )
    return journal


#: The engine's settings the command does not expose: those of `import_customers`.
ENGINE_DEFAULTS: dict[str, Any] = {
    "max_attempts": 8,
    "max_rounds": 8,
    "reconcile_batch": 1000,
    "sleep": asyncio.sleep,
    "clock": time.monotonic,
}

STOPPED = {
    "input": "the input could not be read",
    "write": "a file could not be written",
    "unreachable": "the API could not be reached",
    "credentials": "the API refused the credentials",
    "SIGINT": "interrupted by SIGINT",
    "SIGTERM": "stopped by SIGTERM",
}


def json_summary(
    args: argparse.Namespace,
    ending: Ending,
    *,
    source: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """`--json`: the summary as one object, for scripts."""
    report = ending.report
    counts: dict[str, Any] = dict.fromkeys(
        ("rows", "created", "rejected", "failed", "resumed", "reconciled"), 0
    )
    elapsed = rate = 0.0
    concurrency = 0
    if report is not None:
        counts = {
            "rows": report.total,
            "created": report.created,
            "rejected": report.rejected,
            "failed": report.failed,
            "resumed": report.resumed,
            "reconciled": report.reconciled,
        }
        elapsed = report.elapsed
        concurrency = report.concurrency
        finished_now = report.total - report.resumed
        rate = finished_now / elapsed if elapsed > 0 else 0.0
    return {
        "exit_status": ending.code,
        "reason": ending.reason,
        "message": ending.message,
        **counts,
        "elapsed_seconds": round(elapsed, 3),
        "rows_per_second": round(rate, 1),
        "concurrency": concurrency,
        "source": source,
        "target": target,
        "journal": args.journal,
        "failures": args.failures,
    }
