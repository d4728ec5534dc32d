"""The benchmark suite: `python benchmarks/run.py` (or `nox -s bench`, which installs the peers).

Starts the loopback fake eComCharge in separate processes, runs every
benchmark for several rounds, prints a table of medians and ratios against
the targets, and writes the same figures as JSON (benchmarks/results/latest.json
unless `--output` says otherwise). It asserts nothing: the figures are for
people to read and compare.
"""

from __future__ import annotations

import argparse
import importlib.util
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

#: (figure, target) pairs checked in the summary; a ratio is ours / theirs.
TARGETS = {
    "cpu_vs_raw": ("client CPU per create vs raw aiohttp", "<=", 1.15),
    "rate_vs_raw_c64": ("creates/s vs raw aiohttp at c=64", ">=", 0.9),
    "rate_vs_bepaid": ("creates/s vs bepaid", ">=", 10.0),
    "decode_vs_pydantic": ("list decoding time vs pydantic validate_json", "<=", 1.5),
}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("ecomcharge-async", "aiohttp", "attrs", "cattrs", "bepaid", "httpx", "pydantic"):
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


def bulk_import(args: argparse.Namespace) -> dict[str, Any] | None:
    """Slot for benchmarks/bulk_import.py (rows/s and peak RSS); None while it does not exist.

    The module is expected to offer `run(rounds=...) -> dict` with JSON-ready figures.
    """
    if importlib.util.find_spec("bulk_import") is None:
        return None
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
        with fake_server() as url:
            results["creates"] = creates.run(
                url, rounds=args.rounds, creates=args.creates, concurrencies=args.concurrency
            )
    if "decoding" in wanted:
        with fake_server(customers=args.list_size) as url:
            results["decoding"] = decoding.run(url, rounds=args.rounds)
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


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target with its measured ratio and whether it holds (None: not measured)."""
    measured: dict[str, list[tuple[str, float]]] = {name: [] for name in TARGETS}
    for key, section in results.get("creates", {}).get("by_concurrency", {}).items():
        ratios = section["ratios"]
        measured["cpu_vs_raw"].append((key, ratios["cpu_vs_raw"]))
        if key == "c64":
            measured["rate_vs_raw_c64"].append((key, ratios["rate_vs_raw"]))
        if "rate_vs_bepaid" in ratios:
            measured["rate_vs_bepaid"].append((key, ratios["rate_vs_bepaid"]))
    if "vs_pydantic" in results.get("decoding", {}).get("ratios", {}):
        measured["decode_vs_pydantic"].append(
            ("list", results["decoding"]["ratios"]["vs_pydantic"])
        )
    report = {}
    for name, (label, op, bound) in TARGETS.items():
        checks = dict(measured[name])
        holds = None
        if checks:
            holds = all(v <= bound if op == "<=" else v >= bound for v in checks.values())
        report[name] = {
            "what": label,
            "target": f"{op} {bound}",
            "measured": checks,
            "holds": holds,
        }
    return report


def render(results: dict[str, Any]) -> str:
    """The figures as a plain-text table: median (min-max over rounds)."""
    lines = []
    m = results["machine"]
    lines.append(
        f"{m['cpu_model']}, {m['cpus']} CPUs, Python {m['python']}, "
        f"{results['rounds']} rounds, load {m['load_average_at_start'][0]:.2f} at start"
    )
    if "creates" in results:
        c = results["creates"]
        lines.append(f"\ncreates ({c['creates']} per round)   creates/s        CPU us/create")
        for key, section in c["by_concurrency"].items():
            for name, fig in section["clients"].items():
                rate, cpu = fig["creates_per_s"], fig["cpu_us_per_create"]
                lines.append(f"  {key:<4} {name:<17} {_spread(rate, 0):<17} {_spread(cpu, 0)}")
            ratios = "  ".join(f"{k} {v:.2f}" for k, v in section["ratios"].items())
            lines.append(f"  {key:<4} ratios: {ratios}")
        for name, why in c["skipped"].items():
            lines.append(f"  {name}: skipped: {why}")
    if "decoding" in results:
        d = results["decoding"]
        lines.append(
            f"\ndecoding a list of {d['customers']} customers ({d['body_bytes']} bytes)"
            "   ms   us/customer"
        )
        for name, fig in d["decoders"].items():
            lines.append(f"  {name:<17} {_spread(fig['ms'], 1):<22} {fig['us_per_customer']:.2f}")
        lines.append("  ratios: " + "  ".join(f"{k} {v:.2f}" for k, v in d["ratios"].items()))
        for name, why in d["skipped"].items():
            lines.append(f"  {name}: skipped: {why}")
    if "overhead" in results:
        o = results["overhead"]
        lines.append(f"\nFakeTransport, one create at a time ({o['calls']} calls)   CPU us/call")
        for name, fig in o["us_per_call"].items():
            lines.append(f"  {name:<17} {_spread(fig, 1)}")
        lines.append(f"  {'SDK overhead':<17} {_spread(o['sdk_overhead_us'], 1)}")
    if "bulk_import" in results:
        bulk = results["bulk_import"]
        text = "not measured: benchmarks/bulk_import.py does not exist yet"
        lines.append("\nbulk import: " + (json.dumps(bulk, indent=2) if bulk else text))
    lines.append("\ntargets (ours / theirs)")
    for t in results["targets"].values():
        state = {True: "holds", False: "MISSED", None: "not measured"}[t["holds"]]
        measured = ", ".join(f"{k} {v:.2f}" for k, v in t["measured"].items()) or "-"
        lines.append(f"  {t['what']:<48} {t['target']:<8} {measured:<24} {state}")
    return "\n".join(lines)


def _spread(fig: dict[str, float], digits: int) -> str:
    return f"{fig['median']:.{digits}f} ({fig['min']:.{digits}f}-{fig['max']:.{digits}f})"


if __name__ == "__main__":
    main()
