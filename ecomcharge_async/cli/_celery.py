"""`ecomcharge import PATH --shards N --celery`: enqueue one task per shard, watch, sum up.

The command needs no API credentials: the workers have them. It reads the input
once (to refuse an unreadable one at once, and for the fingerprint each worker
checks its copy against), enqueues the shards, shows one progress line for the
whole import, and exits as a local import does: 0 every row created, 1 rows
rejected or failed (or a shard's task failed), 2 bad usage, unreadable input or
a refused journal, 3 credentials refused on a worker.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, TextIO

from ..bulk import Counts, ImportReport, InputError, RowReader, scan_input
from ._progress import render_bar, summary

#: How often the command asks the result backend how the shards are doing.
POLL_EVERY = 0.25
#: How often a progress line is printed when stderr is not a terminal.
LINE_EVERY = 10.0


def _template(option: str, value: str | None) -> str | None:
    """An absolute path template with `{shard}`, or a ValueError saying what is wrong."""
    if value is None:
        return None
    if "{shard}" not in value:
        raise ValueError(
            f"{option} {value} must contain {{shard}} with --celery: every shard needs "
            f"its own file (e.g. {option} import-{{shard}}.journal)"
        )
    return os.path.abspath(value)


def _check(args: argparse.Namespace) -> str | None:
    """What is wrong with the options for a Celery import, if anything."""
    if not args.celery:
        return "--shards needs --celery (one slice on this machine: --shard K/N)"
    if args.shards is None:
        return "--celery needs --shards N: how many tasks to split the import into"
    if args.shard is not None:
        return "--shard and --celery exclude each other: --shards N splits the whole file"
    if args.fake:
        return "--fake cannot be shared by workers; run a shop they all reach"
    if args.base_url:
        return "with --celery the workers read ECOMCHARGE_BASE_URL from their environment"
    return None


def celery_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the whole import on the Celery workers; return the exit status."""

    def usage_error(message: str) -> int:
        print(f"ecomcharge import: error: {message}", file=err)
        return 2

    problem = _check(args)
    if problem is not None:
        return usage_error(problem)
    path = os.path.abspath(args.path)
    try:
        journal = _template("--journal", args.journal or f"{path}.{{shard}}.journal")
        failures = _template("--failures", args.failures)
    except ValueError as exc:
        return usage_error(str(exc))
    assert journal is not None
    try:
        scan = scan_input(path)
        with RowReader(path) as reader:
            header = 1 if reader.format == "csv" else 0
    except InputError as exc:
        return usage_error(str(exc))
    try:
        from kombu.utils.url import maybe_sanitize_url

        from ..celery import app, import_shard
    except ImportError as exc:
        return usage_error(
            f"--celery needs the celery extra: pip install 'ecomcharge-async[celery]' ({exc})"
        )
    except ValueError as exc:
        return usage_error(str(exc))
    broker = maybe_sanitize_url(app.conf.broker_url)  # a password masked
    try:
        with app.connection() as connection:  # at once, not after Celery's 20 s of retries
            connection.ensure_connection(max_retries=2, interval_start=0, interval_step=1)
    except Exception as exc:  # kombu's OperationalError and friends
        return usage_error(f"cannot reach the broker at {broker}: {exc}")
    started = time.monotonic()
    try:
        pending = {
            k: import_shard.apply_async(
                (path, k, args.shards),
                {
                    "journal": journal.replace("{shard}", str(k)),
                    "failures": failures.replace("{shard}", str(k)) if failures else None,
                    "concurrency": args.concurrency,
                    "max_concurrency": args.max_concurrency,
                    "rate": args.rate,
                    "input_id": scan.fingerprint,
                },
            )
            for k in range(args.shards)
        }
    except Exception as exc:  # kombu's OperationalError and friends: no broker
        return usage_error(f"cannot enqueue the shards on {broker}: {exc}")
    print(
        f"ecomcharge import: {args.shards} shard task(s) of {path} enqueued on {broker}; "
        "waiting for the workers",
        file=err,
        flush=True,
    )
    total = max(0, scan.lines - header)
    watch = _Watch(err, total, args.shards, started)
    try:
        results = _wait(pending, watch)
    except KeyboardInterrupt:
        watch.close()
        print(
            "ecomcharge import: interrupted; the queued shards still run on the workers; "
            "run the same command again to wait for them (the journals make it resume)",
            file=err,
        )
        return 130
    except Exception as exc:  # the result backend went away
        watch.close()
        backend = maybe_sanitize_url(str(app.conf.result_backend))
        return usage_error(
            f"lost the results at {backend} ({exc}); the shards still run on the workers"
        )
    watch.close()
    return _report(results, args, path, time.monotonic() - started, out, err)


class _Watch:
    """The one progress bar (terminal) or periodic progress lines (anything else)."""

    def __init__(self, stream: TextIO, total: int, shards: int, started: float) -> None:
        self.stream = stream
        self.total = total
        self.shards = shards
        self.started = started
        self.tty = stream.isatty()
        self.done: dict[int, int] = {}
        self.finished = 0
        self.shown_at = started
        self.width = 0

    def update(self, shard: int, done: int) -> None:
        self.done[shard] = max(done, self.done.get(shard, 0))

    def shard_finished(self, shard: int, done: int) -> None:
        self.update(shard, done)
        self.finished += 1
        if not self.tty:
            self._line(time.monotonic())

    def tick(self) -> None:
        now = time.monotonic()
        if self.tty:
            text = render_bar(sum(self.done.values()), self.total, now - self.started)
            text += f"  {self.finished}/{self.shards} shards"
            self.stream.write("\r" + text.ljust(self.width))
            self.stream.flush()
            self.width = len(text)
        elif now - self.shown_at >= LINE_EVERY:
            self._line(now)

    def _line(self, now: float) -> None:
        self.shown_at = now
        done = sum(self.done.values())
        rate = done / (now - self.started) if now > self.started else 0.0
        print(
            f"ecomcharge import: {done:,}/{self.total:,} rows, {rate:,.0f} rows/s, "
            f"{self.finished}/{self.shards} shards finished",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.tty:
            self.tick()
            self.stream.write("\n")
            self.stream.flush()


def _wait(pending: dict[int, Any], watch: _Watch) -> dict[int, Any]:
    """Poll until every shard's task ended; its result dict, or the exception it raised."""
    from celery import states

    results: dict[int, Any] = {}
    while pending:
        for k, result in list(pending.items()):
            state, info = result.state, result.info
            if state == "PROGRESS" and isinstance(info, dict):
                watch.update(k, Counts.from_dict(info).total)
            elif state in states.READY_STATES and not _requeued(info):
                results[k] = info
                del pending[k]
                done = Counts.from_dict(info).total if isinstance(info, dict) else 0
                watch.shard_finished(k, done)
        watch.tick()
        if pending:
            time.sleep(POLL_EVERY)
    return results


def _requeued(info: object) -> bool:
    """A pool process lost mid-shard: the task went back on the queue, it is not over."""
    return type(info).__name__ == "WorkerLostError"


def _report(
    results: dict[int, Any],
    args: argparse.Namespace,
    path: str,
    elapsed: float,
    out: TextIO,
    err: TextIO,
) -> int:
    counts = Counts()
    target = "the workers' shop"
    status = 0
    lines: list[str] = []
    for k in sorted(results):
        info = results[k]
        if not isinstance(info, dict):
            print(f"ecomcharge import: error: shard {k}: the task failed: {info!r}", file=err)
            status = max(status, 1)
            continue
        if "error" in info:
            print(f"ecomcharge import: error: shard {k}: {info['error']}", file=err)
            status = max(status, int(info.get("exit", 2)))
            continue
        shard = Counts.from_dict(info)
        counts += shard
        target = f"shop {info['shop_id']} at {info['base_url']}"
        if not shard.ok:
            where = f" ({info['failures']})" if info.get("failures") else ""
            lines.append(
                f"  shard {k}: {shard.rejected:,} rejected, {shard.failed:,} failed{where}"
            )
    report = ImportReport(**counts.to_dict(), elapsed=elapsed)
    source = f"{path} ({args.shards} shards on Celery)"
    print(summary(report, source=source, target=target), file=out)
    for line in lines:
        print(line, file=out)
    if status == 0 and not report.ok:
        status = 1
    return status
