"""The benchmark suite: `python benchmarks/run.py` (or `nox -s bench`, which installs the peers).

Starts the loopback fake eComCharge in separate processes, runs every
benchmark for several rounds, prints a table of medians and ratios against
the targets, and writes the same figures as JSON (benchmarks/results/latest.json
unless `--output` says otherwise), each target of the second performance
step with its ratio and PASS or FAIL. It asserts nothing: the figures are
for people to read and compare. `--quick` runs everything at tiny sizes.
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

import codec
import creates
import decoding
import listing
import overhead
import startup
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

#: The targets of the second performance step: (label, path to the figure in the
#: results, comparison, bound, unit). A "ratio" is ours / theirs, the median of
#: the per-round ratios; "ms" is what we add, the median of per-turn differences.
TARGETS: list[tuple[str, tuple[str, ...], str, float, str]] = [
    ("client CPU/create vs raw aiohttp, c=64",
     ("creates", "by_concurrency", "c64", "ratios", "cpu_vs_raw"), "<=", 1.10, "ratio"),
    ("client CPU/create vs raw aiohttp, c=1",
     ("creates", "by_concurrency", "c1", "ratios", "cpu_vs_raw"), "<=", 1.10, "ratio"),
    ("creates/s vs raw aiohttp, c=64",
     ("creates", "by_concurrency", "c64", "ratios", "rate_vs_raw"), ">=", 0.92, "ratio"),
    ("list() decode vs pydantic validate_json",
     ("decoding", "ratios", "vs_pydantic"), "<=", 0.7, "ratio"),
    ("iter() vs list(), time per customer",
     ("listing", "ratios", "iter_vs_list"), "<=", 1.5, "ratio"),
    ("iter() peak memory, 10x the customers",
     ("listing", "ratios", "iter_memory_big_vs_small"), "<=", 1.2, "ratio"),
    ("encode NewCustomer vs pydantic model_dump_json",
     ("codec", "ratios", "encode_vs_pydantic"), "<=", 1.0, "ratio"),
    ("decode Customer vs pydantic model_validate_json",
     ("codec", "ratios", "decode_vs_pydantic"), "<=", 1.0, "ratio"),
    ("import ecomcharge_async vs import aiohttp",
     ("startup", "import", "added_ms"), "<=", 30.0, "ms"),
    ("pytest start, plugin vs -p no:ecomcharge",
     ("startup", "pytest_plugin", "added_ms"), "<=", 30.0, "ms"),
    ("bulk peak RSS, 200,000 vs 20,000 rows",
     ("bulk_import", "ratios", "peak_rss_large_vs_small"), "<=", 1.1, "ratio"),
    ("import at its defaults, CPU/row vs hand script",
     ("import_peer", "ratios", "cli_default_cpu_vs_script"), "<=", 1.0, "ratio"),
    ("import at its defaults, rows/s vs hand script",
     ("import_peer", "ratios", "cli_default_rate_vs_script"), ">=", 1.0, "ratio"),
    ("auto vs a 250/s bucket, rows/s / 250",
     ("auto_concurrency", "ratios", "bucket_rate_vs_250"), ">=", 0.9, "ratio"),
    ("auto vs a 250/s bucket, share answered 429",
     ("auto_concurrency", "ratios", "bucket_share_429"), "<=", 0.02, "share"),
    ("auto vs a 200 ms API, rows/s / best fixed",
     ("auto_concurrency", "ratios", "slow_auto_vs_best_fixed"), ">=", 0.9, "ratio"),
]  # fmt: skip
#: Where each added-ms target finds the matching ratio, printed beside it.
_MS_RATIO = {
    ("startup", "import", "added_ms"): ("startup", "import", "ratio"),
    ("startup", "pytest_plugin", "added_ms"): ("startup", "pytest_plugin", "ratio"),
}
BENCHMARKS = ("creates", "decoding", "listing", "codec", "overhead", "startup", "bulk", "peer",
              "auto")  # fmt: skip
#: Left out of --quick: they import thousands of rows, several times.
LONG = ("bulk", "peer", "auto")
#: --quick: tiny sizes, one round, no bulk import; checks that everything runs (tests use it).
QUICK = {"rounds": 1, "creates": 64, "list_size": 300, "fake_calls": 50, "codec_calls": 200,
         "startup_repeats": 1}  # fmt: skip


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
        "--codec-calls", type=int, default=20_000, help="calls per encode/decode round"
    )
    parser.add_argument(
        "--startup-repeats", type=int, default=7, help="fresh processes per start-up figure"
    )
    parser.add_argument(
        "--peer-rows", type=int, default=20_000, help="rows per import against the hand script"
    )
    parser.add_argument(
        "--auto-rows", type=int, default=3000, help="rows per import against the shaped APIs"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and one round, bulk import left out: checks that everything runs",
    )
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "latest.json", help="JSON results file"
    )
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        if args.only is None:
            args.only = [name for name in BENCHMARKS if name not in LONG]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wanted = set(args.only or BENCHMARKS)
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
    if wanted & {"decoding", "listing"}:
        with fake_server(customers=args.list_size) as server:
            if "decoding" in wanted:
                results["decoding"] = decoding.run(server, rounds=args.rounds)
            if "listing" in wanted:
                with fake_server(customers=max(args.list_size // 10, 1)) as small:
                    results["listing"] = listing.run(server, small, rounds=args.rounds)
    if "codec" in wanted:
        results["codec"] = codec.run(rounds=args.rounds, calls=args.codec_calls)
    if "overhead" in wanted:
        results["overhead"] = overhead.run(rounds=args.rounds, calls=args.fake_calls)
    if "startup" in wanted:
        results["startup"] = startup.run(repeats=args.startup_repeats)
    if "bulk" in wanted:
        results["bulk_import"] = bulk_import(args)
    if "peer" in wanted:
        import import_peer  # type: ignore[import-not-found]

        results["import_peer"] = import_peer.run(rows=args.peer_rows, rounds=args.rounds)
    if "auto" in wanted:
        import auto_concurrency  # type: ignore[import-not-found]

        results["auto_concurrency"] = auto_concurrency.run(
            args.auto_rows, args.rounds, auto_concurrency.SETTINGS
        )
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["targets"] = targets(results)
    print(render(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")


def _lookup(results: dict[str, Any], path: tuple[str, ...]) -> Any:
    figure: Any = results
    for key in path:
        figure = figure.get(key) if isinstance(figure, dict) else None
    return figure


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured figure and whether it holds (None: not measured)."""
    report = []
    for label, path, op, bound, unit in TARGETS:
        figure = _lookup(results, path)
        measured = None if figure is None else figure["median"]
        holds = None
        if measured is not None:
            holds = measured <= bound if op == "<=" else measured >= bound
        ratio_figure = _lookup(results, _MS_RATIO[path]) if path in _MS_RATIO else figure
        shown = {"ms": f"+{bound:g} ms", "share": f"{bound:.0%}"}.get(unit, f"{bound:g}x")
        report.append(
            {
                "what": label,
                "target": f"{op} {shown}",
                "unit": unit,
                "bound": bound,
                "measured": measured,
                "ratio": None if ratio_figure is None else ratio_figure["median"],
                "holds": holds,
            }
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
    if "listing" in results:
        li = results["listing"]
        lines.append(f"\nlisting {li['customers']} customers over HTTP   us/customer")
        for name, fig in li["us_per_customer"].items():
            lines.append(f"  {name + '()':<17} {_spread(fig, 2)}")
        mem = li["peak_traced_memory"]
        lines.append(
            f"  peak traced memory: iter() {mem['iter_small_kib']:,.0f} KiB over "
            f"{li['small_customers']} customers, {mem['iter_big_kib']:,.0f} KiB over "
            f"{li['customers']}; list() {mem['list_big_kib']:,.0f} KiB over {li['customers']}"
        )
    if "codec" in results:
        co = results["codec"]
        lines.append(f"\none object, {co['calls']} calls per round   us/call")
        for name, fig in co["us_per_call"].items():
            lines.append(f"  {name:<29} {_spread(fig, 2)}")
        for name, why in co["skipped"].items():
            lines.append(f"  {name}: skipped: {why}")
    if "startup" in results:
        st = results["startup"]
        lines.append(f"\nstart-up, {st['repeats']} fresh processes each   ms")
        for key in ("import", "pytest_plugin"):
            if key in st:
                fig = st[key]
                lines.append(
                    f"  {key:<14} ours {_spread(fig['ours_ms'], 1)}, {fig['vs']} "
                    f"{_spread(fig['theirs_ms'], 1)}, added {_spread(fig['added_ms'], 1)}"
                )
        for name, why in st.get("skipped", {}).items():
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
    if "import_peer" in results:
        import import_peer

        lines += ["", import_peer.render(results["import_peer"])]
    if "auto_concurrency" in results:
        import auto_concurrency

        lines += ["", auto_concurrency.render(results["auto_concurrency"])]
    lines.append("\ntargets (ours / theirs: medians of per-round ratios; ms: what we add)")
    for t in results["targets"]:
        state = {True: "PASS", False: "FAIL", None: "not measured"}[t["holds"]]
        if t["measured"] is None:
            measured = "-"
        elif t["unit"] == "ms":
            measured = f"{t['measured']:+.1f} ms ({t['ratio']:.2f}x)"
        elif t["unit"] == "share":
            measured = f"{t['measured']:.1%}"
        else:  # three decimals where two would hide which side of the bound it is
            close = round(t["measured"], 2) == t["bound"]
            measured = f"{t['measured']:.{3 if close else 2}f}x"
        lines.append(f"  {t['what']:<48} {t['target']:<11} {measured:<20} {state}")
    return "\n".join(lines)


def _spread(fig: dict[str, float] | None, digits: int) -> str:
    if fig is None:
        return "-"
    return f"{fig['median']:.{digits}f} ({fig['min']:.{digits}f}-{fig['max']:.{digits}f})"


if __name__ == "__main__":
    main()
