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
from typing import Any, TextIO

import attrs

from .._core.client import Client
from .._core.errors import AuthenticationError
from .._core.logs import logger
from .._transports.aiohttp_transport import AiohttpTransport
from ..bulk import (
    Counts,
    FailuresFile,
    ImportJob,
    ImportReport,
    ImportSettings,
    InputError,
    RowOutcome,
    RowReader,
)
from ..testing import FakeEcomCharge
from ..testing._backend import DEMO_SECRET, DEMO_SHOP_ID
from ._files import RunTally
from ._progress import ProgressBar, ProgressLines
from ._reach import ReachWatch
from ._run import ImportRun


class UsageError(Exception):
    """A configuration the import cannot start with: one line, exit status 2."""


#: How long connection failures may go on once the API has answered (see --connect-deadline).
LATER_CONNECT_DEADLINE = 300.0
#: The longest a single connection attempt may take.
CONNECT_TIMEOUT = 10.0


def import_settings(args: argparse.Namespace) -> ImportSettings:
    """The engine's settings the options give (the others are `import_customers`' defaults)."""
    return ImportSettings(
        concurrency=args.concurrency,
        max_concurrency=args.max_concurrency,
        rate=args.rate,
        shard=args.shard,
    )


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
            limit=max(100, import_settings(args).most_in_flight),
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
    tally: RunTally,
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
        if failures is not None:
            failures.write(outcome)
        if bar is not None:
            bar.update(outcome)

    job: ImportJob | None = None
    sending = False
    try:  # everything opened from here on is closed in `finally`, whatever fails between
        job = opened = open_job(args, client, input_id, stderr)
        if args.failures:
            failures = FailuresFile(args.failures, append=job.resumed)
        if not args.quiet:
            if stderr.isatty():
                bar = ProgressBar(stderr, total, concurrency=lambda: opened.concurrency)
            else:
                lines = ProgressLines(
                    stderr,
                    total,
                    tally,
                    every=args.progress_every,
                    concurrency=lambda: opened.concurrency,
                )
                printer = asyncio.create_task(lines.run())
        with contextlib.suppress(NotImplementedError):  # no loop signal handlers on Windows
            for signum, code in _STOP_SIGNALS:
                loop.add_signal_handler(signum, _on_signal, run, signum, code, args.grace, stderr)
        sending = True
        async with client:
            # The tally counts every row; a row's outcome is made only for a listener.
            listens = failures is not None or bar is not None
            rows = job.run(run.rows(reader), on_progress if listens else None, tally=tally)
            report = await run.run(rows)
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
        if job is not None:
            job.close()
    if run.code is not None:
        return Ending(run.code, run.reason or "stopped", run.message, report)
    assert report is not None
    reason = "completed" if report.ok else "rows rejected or failed"
    return Ending(0 if report.ok else 1, reason, None, report)


def open_job(
    args: argparse.Namespace, client: Client, input_id: str | None, stderr: TextIO
) -> ImportJob:
    """This run's import, its journal open; say so when the input changed since its last run."""
    job = ImportJob(client, import_settings(args), journal=args.journal, input_id=input_id)
    if args.journal is not None:
        logger.info("journal: %s", args.journal)
    if job.input_changed:
        print(
            f"ecomcharge import: {args.path} changed since the journal's last run; resuming "
            "by row content (rows created before are not sent again)",
            file=stderr,
            flush=True,
        )
    return job


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
    counts = (report or Counts()).to_dict()
    counts = {"rows": counts.pop("total"), **counts}
    elapsed = rate = 0.0
    concurrency = 0
    if report is not None:
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
