"""The chart of concurrency over time: how the adaptive limiter found each API's pace.

    python benchmarks/concurrency_chart.py [--results benchmarks/results/limiter_preview.json]
        [--out benchmarks/results/bench-concurrency.svg]

Draws, from the results `limiter_preview.py` or `auto_concurrency.py` (the
CLI's progress lines) write, the first round of each API with `auto`: the
concurrency limit over time and, when recorded, the pace in requests per
second. Needs matplotlib (`nox -s bench`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from charts import save
from matplotlib.figure import Figure

HERE = Path(__file__).resolve().parent
TITLES = {
    "bucket": "token bucket 250/s, burst 25, 20 ms per answer",
    "slow": "no limit, 200 ms per answer",
}


def concurrency_chart(results: dict[str, Any]) -> Figure:
    kinds = [kind for kind in results["apis"] if "auto" in results["apis"][kind]]
    figure = Figure(figsize=(5.2 * len(kinds), 3.6), layout="constrained")
    axes = figure.subplots(1, len(kinds), squeeze=False)[0]
    load = results.get("load_average", {})
    start, end = (load.get(key, [float("nan")])[0] for key in ("start", "end"))
    figure.suptitle(
        f"--concurrency auto, {results['rows']:,} rows: the limit over time (first round)\n"
        f"load average {start:.1f} at start, {end:.1f} at end",
        fontsize=9,
    )
    for ax, kind in zip(axes, kinds, strict=True):
        auto = results["apis"][kind]["auto"]
        # limiter_preview.py records the pace too; the CLI's progress lines only the limit.
        series = auto.get("series_first_round") or [
            [t, limit, None] for t, limit in auto["concurrency"][0]["series"]
        ]
        times = [point[0] for point in series]
        ax.step(times, [point[1] for point in series], where="post", color="#2b6cb0",
                label="concurrency limit")  # fmt: skip
        ax.set_xlabel("seconds")
        ax.set_ylabel("requests in flight")
        ax.set_title(TITLES.get(kind, kind), fontsize=9)
        ax.grid(alpha=0.3)
        paced = [(t, rate) for t, _, rate in series if rate is not None]
        if paced:
            pace = ax.twinx()
            pace.step([t for t, _ in paced], [r for _, r in paced], where="post",
                      color="#dd6b20", label="pace, requests/s")  # fmt: skip
            pace.set_ylabel("requests/s")
            pace.set_ylim(0, max(r for _, r in paced) * 1.2)
            figure.legend(loc="lower right", fontsize=8)
    return figure


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results" / "limiter_preview.json")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench-concurrency.svg")
    args = parser.parse_args(argv)
    save(concurrency_chart(json.loads(args.results.read_text())), args.out)
    print(f"wrote {args.out}")
    out: Path = args.out
    return out


if __name__ == "__main__":
    main()
