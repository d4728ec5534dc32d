"""What the import command shows: a one-line progress bar and the summary table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from ..bulk import Counts, ImportReport, RowOutcome, Tally

BAR_WIDTH = 24
REDRAW_EVERY = 0.1


def _clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def render_bar(done: int, total: int | None, elapsed: float, concurrency: int | None = None) -> str:
    """`  1,200/10,000 [##......]  12%  340 rows/s  ETA 0:00:26  concurrency 24`.

    The total may be approximate; without one (input read from a pipe):
    `  1,200 rows  340 rows/s  concurrency 24`.
    """
    rate = done / elapsed if elapsed > 0 else 0.0
    tail = "" if concurrency is None else f"  concurrency {concurrency}"
    if total is None:
        return f"  {done:,} rows  {rate:,.0f} rows/s{tail}"
    total = max(total, done)
    fraction = done / total if total else 1.0
    filled = int(fraction * BAR_WIDTH)
    eta = _clock_text((total - done) / rate) if rate > 0 else "-:--:--"
    return (
        f"  {done:,}/{total:,} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
        f"{fraction:4.0%}  {rate:,.0f} rows/s  ETA {eta}{tail}"
    )


class ProgressBar:
    """Redraws one `\\r` line on a terminal at most ten times a second."""

    def __init__(
        self,
        stream: TextIO,
        total: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        concurrency: Callable[[], int] | None = None,
    ) -> None:
        self._stream = stream
        self._concurrency = concurrency
        self._total = total
        self._clock = clock
        self._started = clock()
        self._drawn_at = float("-inf")
        self._width = 0
        self.done = 0

    def update(self, outcome: RowOutcome) -> None:
        self.done += 1
        now = self._clock()
        if now - self._drawn_at >= REDRAW_EVERY:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        concurrency = self._concurrency() if self._concurrency is not None else None
        text = render_bar(self.done, self._total, now - self._started, concurrency)
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()


def render_line(
    counts: Counts, total: int | None, elapsed: float, concurrency: int | None = None
) -> str:
    """One progress line for a log: rows done, created, rejected, failed, rate, ETA.

    `concurrency`, when given, is the requests the import lets be in flight now.
    """
    done = counts.done
    fresh = done - counts.resumed  # rows finished by this run, for the rate
    rate = fresh / elapsed if elapsed > 0 else 0.0
    if total is None:
        head = f"{done:,} rows done"
        eta = ""
    else:
        total = max(total, done)
        share = done / total if total else 1.0
        head = f"{done:,}/{total:,} rows done ({share:.0%})"
        eta = f", ETA {_clock_text((total - done) / rate) if rate > 0 else '-:--:--'}"
    tail = "" if concurrency is None else f", concurrency {concurrency}"
    return (
        f"progress: {head}: {counts.created:,} created, {counts.rejected:,} rejected, "
        f"{counts.failed:,} failed; {rate:,.0f} rows/s{eta}{tail}"
    )


class ProgressLines:
    """Off a terminal (cron, CI, a pod's log): a plain line every `every` seconds.

    The line reads the import's `tally`. It is printed on time even when no row
    finished meanwhile, so a slow or stuck import still says so.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int | None,
        tally: Tally,
        *,
        every: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        concurrency: Callable[[], int] | None = None,
    ) -> None:
        self._stream = stream
        self._concurrency = concurrency
        self._total = total
        self._every = every
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._tally = tally

    def line(self) -> str:
        concurrency = self._concurrency() if self._concurrency is not None else None
        elapsed = self._clock() - self._started
        return render_line(self._tally.counts(), self._total, elapsed, concurrency)

    async def run(self) -> None:
        """Print a line every `every` seconds until cancelled."""
        while True:
            await self._sleep(self._every)
            try:
                self._stream.write(self.line() + "\n")
                self._stream.flush()
            except BrokenPipeError:
                return  # nobody reads stderr any more: the import goes on without progress


def summary(report: ImportReport, *, source: str, target: str, stopped: str | None = None) -> str:
    """The table printed when an import ends; `stopped` says why it ended early."""
    finished_now = report.total - report.resumed
    rate = finished_now / report.elapsed if report.elapsed > 0 else 0.0
    rows = [
        ("rows done" if stopped else "rows read", report.total),
        ("created", report.created),
        ("rejected", report.rejected),
        ("failed", report.failed),
    ]
    notes = []
    if report.reconciled:
        notes.append(
            f"{report.reconciled:,} created row(s) were confirmed by reconciliation "
            "after an unclear failure"
        )
    if report.resumed:
        notes.append(f"{report.resumed:,} row(s) were finished by an earlier run (journal)")
    lines = [f"Imported {source} into {target}", ""]
    if stopped:
        lines = [f"Stopped ({stopped}) importing {source} into {target}", ""]
    lines += [f"  {label:<10}{count:>12,}" for label, count in rows]
    peak = f", concurrency {report.concurrency}" if report.concurrency else ""
    lines += ["", f"  {report.elapsed:.1f} s, {rate:,.0f} rows/s{peak}"]
    lines += [f"  {note}" for note in notes]
    return "\n".join(lines)
