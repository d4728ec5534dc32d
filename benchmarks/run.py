"""The benchmark suite: `python benchmarks/run.py` (or `nox -s bench`, which installs the peers).

Starts the loopback fake eComCharge in separate processes, runs every
benchmark for several rounds, prints a table of medians and ratios against
the targets, and writes the same figures as JSON (benchmarks/results/latest.json
unless `--output` says otherwise). It asserts nothing: the figures are for
people to read and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import creates
import decoding
import overhead
from _common import HERE, fake_server

#: Packages whose versions the results record.
DISTRIBUTIONS = (
    "ecomcharge-async",
    "aiohttp",
    "attrs",
    "cattrs",
    "msgspec",
    "bepaid",
    "httpx",
    "pydantic",
)

#: The targets of issue 5: (label, benchmark, section, ratio, comparison, bound).
#: Every ratio is ours / theirs, the median of the per-round ratios.
TARGETS = [
    ("client CPU/create vs raw aiohttp, c=1", "creates", "c1", "cpu_vs_raw", "<=", 1.15),
    ("client CPU/create vs raw aiohttp, c=64", "creates", "c64", "cpu_vs_raw", "<=", 1.15),
    ("creates/s vs raw aiohttp, c=64", "creates", "c64", "rate_vs_raw", ">=", 0.9),
    ("creates/s vs bepaid, c=64", "creates", "c64", "rate_vs_bepaid", ">=", 10.0),
    ("creates/s vs bepaid, c=1", "creates", "c1", "rate_vs_bepaid", ">=", 10.0),
    ("list decode time vs pydantic", "decoding", None, "vs_pydantic", "<=", 1.5),
    ("bulk peak RSS, 200,000 vs 20,000 rows", "bulk_import", None, "peak_rss_large_vs_small",
     "<=", 1.1),
]  # fmt: skip


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in DISTRIBUTIONS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def bulk_import(args: argparse.Namespace) -> dict[str, Any]:
    """benchmarks/bulk_import.py: rows/s and peak RSS at 20,000 and 200,000 rows."""
    import bulk_import as bench  # type: ignore[import-not-found]

    result: dict[str, Any] = bench.run(rounds=args.rounds)
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure (default 5)")
    parser.add_argument("--creates", type=int, default=2000, help="creates per measurement")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 64], help="concurrencies to measure"
    )
    parser.add_argument("--list-size", type=int, default=10_000, help="customers in the list")
    parser.add_argument(
        "--fake-calls", type=int, default=5000, help="calls per FakeTransport round"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["creates", "decoding", "overhead", "bulk"],
        help="run only these benchmarks",
    )
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "latest.json", help="JSON results file"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wanted = set(args.only or ["creates", "decoding", "overhead", "bulk"])
    results: dict[str, Any] = {
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "rounds": args.rounds,
    }
    if "creates" in wanted:
        with fake_server() as server:
            results["creates"] = creates.run(
                server, rounds=args.rounds, creates=args.creates, concurrencies=args.concurrency
            )
    if "decoding" in wanted:
        with fake_server(customers=args.list_size) as server:
            results["decoding"] = decoding.run(server, rounds=args.rounds)
    if "overhead" in wanted:
        results["overhead"] = overhead.run(rounds=args.rounds, calls=args.fake_calls)
    if "bulk" in wanted:
        results["bulk_import"] = bulk_import(args)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["targets"] = targets(results)
    print(render(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured ratio and whether it holds (None: not measured)."""
    report = []
    for label, bench, section, name, op, bound in TARGETS:
        figures = results.get(bench) or {}
        if section is not None:
            figures = figures.get("by_concurrency", {}).get(section, {})
        measured = figures.get("ratios", {}).get(name, {}).get("median")
        holds = None
        if measured is not None:
            holds = measured <= bound if op == "<=" else measured >= bound
        report.append(
            {"what": label, "target": f"{op} {bound:g}", "measured": measured, "holds": holds}
        )
    return report


def render(results: dict[str, Any]) -> str:
    """The figures as a plain-text table: median (min-max over the rounds)."""
    m = results["machine"]
    lines = [
        f"{m['cpu_model']}, {m['cpus']} CPUs, Python {m['python']}, {results['rounds']} rounds, "
        f"load average {m['load_average_at_start'][0]:.2f} at start, "
        f"{m['load_average_at_end'][0]:.2f} at end; median (min-max over rounds)"
    ]
    if "creates" in results:
        c = results["creates"]
        lines.append(
            f"\ncreates, {c['creates']} per round  creates/s          client CPU us   server CPU us"
        )
        for key, section in c["by_concurrency"].items():
            for name, fig in section["clients"].items():
                server = fig.get("server_cpu_us_per_create")
                lines.append(
                    f"  {key:<4} {name:<17} {_spread(fig['creates_per_s'], 0):<18} "
                    f"{_spread(fig['cpu_us_per_create'], 0):<15} {_spread(server, 0)}"
                )
            for name, fig in section["ratios"].items():
                lines.append(f"  {key:<4} {name:<17} {_spread(fig, 2)}")
        for name, why in c["skipped"].items():
            lines.append(f"  {name}: skipped: {why}")
    if "decoding" in results:
        d = results["decoding"]
        lines.append(
            f"\ndecoding a list of {d['customers']} customers ({d['body_bytes']:,} bytes)"
            "   ms                   us/customer"
        )
        for name, fig in d["decoders"].items():
            lines.append(f"  {name:<17} {_spread(fig['ms'], 1):<20} {fig['us_per_customer']:.2f}")
        for name, fig in d["ratios"].items():
            lines.append(f"  ours {name:<12} {_spread(fig, 2)}")
        for name, why in d["skipped"].items():
            lines.append(f"  {name}: skipped: {why}")
    if "overhead" in results:
        o = results["overhead"]
        lines.append(f"\nFakeTransport, one create at a time, {o['calls']} calls   CPU us/call")
        for name, fig in o["us_per_call"].items():
            lines.append(f"  {name:<17} {_spread(fig, 1)}")
        lines.append(f"  {'SDK overhead':<17} {_spread(o['sdk_overhead_us'], 1)}")
    if "bulk_import" in results:
        lines.append("\nbulk import over HTTP, concurrency 64   rows/s    peak RSS MiB")
        for size, fig in results["bulk_import"].items():
            if size != "ratios":
                lines.append(
                    f"  {fig['rows']:>9,} rows{'':<22}{fig['median_rows_per_s']:>7,.0f}"
                    f"    {fig['median_peak_rss_mib']:.1f}"
                )
    lines.append("\ntargets (ours / theirs, median of the per-round ratios)")
    for t in results["targets"]:
        state = {True: "holds", False: "MISSED", None: "not measured"}[t["holds"]]
        measured = "-" if t["measured"] is None else f"{t['measured']:.2f}"
        lines.append(f"  {t['what']:<40} {t['target']:<8} {measured:<7} {state}")
    return "\n".join(lines)


def _spread(fig: dict[str, float] | None, digits: int) -> str:
    if fig is None:
        return "-"
    return f"{fig['median']:.{digits}f} ({fig['min']:.{digits}f}-{fig['max']:.{digits}f})"


if __name__ == "__main__":
    main()
