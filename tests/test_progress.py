"""The import command's progress line and summary table."""

from __future__ import annotations

import asyncio
import io

import pytest

from ecomcharge_async.bulk import Counts, ImportReport, RowOutcome, Tally
from ecomcharge_async.cli._progress import (
    ProgressBar,
    ProgressLines,
    render_bar,
    render_line,
    summary,
)


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [
        (0, 1000, 0.0, "  0/1,000 [........................]   0%  0 rows/s  ETA -:--:--"),
        (250, 1000, 2.0, "  250/1,000 [######..................]  25%  125 rows/s  ETA 0:00:06"),
        (1000, 1000, 4.0, "  1,000/1,000 [########################] 100%  250 rows/s  ETA 0:00:00"),
        # The total is counted from lines, so it can be low: never above 100 %.
        (12, 10, 1.0, "  12/12 [########################] 100%  12 rows/s  ETA 0:00:00"),
        (1, 100_000, 10.0, "  1/100,000 [........................]   0%  0 rows/s  ETA 277:46:30"),
    ],
)
def test_render_bar(done: int, total: int, elapsed: float, expected: str) -> None:
    assert render_bar(done, total, elapsed) == expected


def test_the_bar_redraws_at_most_ten_times_a_second() -> None:
    now = 0.0
    stream = io.StringIO()
    bar = ProgressBar(stream, 100, clock=lambda: now)
    outcome = RowOutcome(line=1, status="created")
    for _ in range(50):
        now += 0.01
        bar.update(outcome)
    bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) == 6  # t = 0.01, 0.11, 0.21, 0.31, 0.41, and the final one
    assert frames[-1].startswith("  50/100 ")
    assert stream.getvalue().endswith("\n")


def test_summary_table() -> None:
    report = ImportReport(
        total=1000,
        created=990,
        rejected=8,
        failed=2,
        resumed=400,
        reconciled=3,
        elapsed=2.0,
        concurrency=24,
    )
    assert summary(report, source="in.csv", target="shop 361").splitlines() == [
        "Imported in.csv into shop 361",
        "",
        "  rows read        1,000",
        "  created            990",
        "  rejected             8",
        "  failed               2",
        "",
        "  2.0 s, 300 rows/s, concurrency 24",
        "  3 created row(s) were confirmed by reconciliation after an unclear failure",
        "  400 row(s) were finished by an earlier run (journal)",
    ]


@pytest.mark.parametrize(
    ("counts", "total", "elapsed", "expected"),
    [
        (
            {"created": 90, "rejected": 8, "failed": 2},
            1000,
            10.0,
            "progress: 100/1,000 rows done (10%): 90 created, 8 rejected, 2 failed; "
            "10 rows/s, ETA 0:01:30",
        ),
        (
            {"created": 5},
            None,
            2.0,
            "progress: 5 rows done: 5 created, 0 rejected, 0 failed; 2 rows/s",
        ),
        (
            {},
            10,
            0.0,
            "progress: 0/10 rows done (0%): 0 created, 0 rejected, 0 failed; 0 rows/s, ETA -:--:--",
        ),
    ],
)
def test_render_line(
    counts: dict[str, int], total: int | None, elapsed: float, expected: str
) -> None:
    assert render_line(Counts(**counts), total, elapsed) == expected


def test_the_bar_and_the_lines_show_the_concurrency_when_given() -> None:
    assert render_bar(10, None, 2.0, 24) == "  10 rows  5 rows/s  concurrency 24"
    assert render_bar(5, 10, 1.0, 8).endswith(" 50%  5 rows/s  ETA 0:00:01  concurrency 8")
    assert render_line(Counts(created=5), None, 1.0, 3) == (
        "progress: 5 rows done: 5 created, 0 rejected, 0 failed; 5 rows/s, concurrency 3"
    )
    limit = 8
    stream = io.StringIO()
    bar = ProgressBar(stream, None, clock=lambda: 1.0, concurrency=lambda: limit)
    limit = 32  # read when drawn, not when the bar was made
    bar.close()
    assert stream.getvalue() == "\r  0 rows  0 rows/s  concurrency 32\n"
    tally = Tally()
    lines = ProgressLines(stream, 4, tally, every=1, clock=lambda: 2.0, concurrency=lambda: limit)
    tally.add(RowOutcome(line=1, status="created"))
    assert lines.line().endswith("; 0 rows/s, ETA -:--:--, concurrency 32")


async def test_progress_lines_come_on_time_even_when_no_row_finished() -> None:
    now = 0.0
    stream = io.StringIO()
    printed = asyncio.Event()

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds
        if now >= 30:
            printed.set()
            await asyncio.Event().wait()  # stop here until cancelled

    tally = Tally()
    lines = ProgressLines(stream, 4, tally, every=10, clock=lambda: now, sleep=sleep)
    tally.add(RowOutcome(line=2, status="created"))
    task = asyncio.create_task(lines.run())
    await printed.wait()
    task.cancel()
    assert stream.getvalue().splitlines() == [
        "progress: 1/4 rows done (25%): 1 created, 0 rejected, 0 failed; 0 rows/s, ETA 0:00:30",
        "progress: 1/4 rows done (25%): 1 created, 0 rejected, 0 failed; 0 rows/s, ETA 0:01:00",
    ]
