"""Where an import's client CPU goes: `ecomcharge import` under cProfile, by part.

Serves the plain loopback fake (benchmarks/limited_api.py), runs `ecomcharge
import CSV --concurrency 64 --journal J` on `--rows` customers under cProfile
timed by the process's CPU clock (not the wall clock), and sums the profile's
own time (tottime) by part of the program: the journal, rows (CSV reading, parsing, validation), the
importer's bookkeeping, progress and the CLI, the SDK's request path, aiohttp,
the asyncio loop, start-up. Time spent in the standard library or a builtin
(json.dumps, hashlib, file writes, csv) goes to the part that called it.
cProfile slows Python calls down, so the shares matter more than the totals.

    python benchmarks/profile_import.py --rows 20000 [--no-journal]
"""

from __future__ import annotations

import argparse
import json
import pstats
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from import_peer import cli_command, run_process, write_csv
from limited_api import limited_api, stats

HERE = Path(__file__).resolve().parent
#: (part, substrings of a file path that put a function in it), first match wins.
PARTS = (
    ("start-up (imports)", ("<frozen importlib", "<frozen zipimport")),
    ("journal", ("bulk/_journal.py",)),
    ("rows: CSV, parse, validate", ("bulk/_rows.py", "bulk/_readahead.py")),
    ("importer bookkeeping", ("bulk/_importer.py", "bulk/_bloom.py", "bulk/_reconcile.py",
                              "bulk/_shard.py", "bulk/__init__.py", "bulk/_limiter.py",
                              "bulk/_slots.py", "bulk/_throughput.py", "bulk/_pacing.py")),
    ("progress and CLI", ("ecomcharge_async/cli/",)),
    ("SDK request path", ("ecomcharge_async/",)),
    ("aiohttp, yarl, multidict", ("aiohttp/", "yarl/", "multidict/", "propcache/")),
    ("asyncio loop", ("asyncio/", "selectors.py")),
)  # fmt: skip
Func = tuple[str, int, str]
#: `python -m cProfile` with the process's CPU time as its clock, not the wall clock: on
#: a shared machine the wall clock also counts the time other processes had the CPU.
PROFILER = """
import cProfile, runpy, sys, time
out, module = sys.argv[1], sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
profiler = cProfile.Profile(time.process_time)
try:
    profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
finally:
    profiler.dump_stats(out)
"""


def part_of(func: Func) -> str | None:
    filename, _, name = func
    for part, needles in PARTS:
        if any(needle in filename for needle in needles):
            return part
    return "start-up (imports)" if name == "<module>" else None


def by_part(stats_: pstats.Stats) -> Counter[str]:
    """Own time per part; a function of no part shares its time out among its callers."""
    table: dict[Func, Any] = stats_.stats  # type: ignore[attr-defined]
    shares: dict[Func, dict[str, float]] = {}

    def share_of(func: Func) -> dict[str, float]:
        """Which parts a function's time belongs to, as fractions (memoised; cycles: other)."""
        if func in shares:
            return shares[func]
        part = part_of(func)
        if part is not None:
            shares[func] = {part: 1.0}
            return shares[func]
        shares[func] = {"other": 1.0}  # while in progress: a cycle lands here
        callers = table[func][4] if func in table else {}
        total = sum(entry[2] for entry in callers.values())
        if total > 0:
            mixed: Counter[str] = Counter()
            for caller, entry in callers.items():
                for name, fraction in share_of(caller).items():
                    mixed[name] += fraction * entry[2] / total
            shares[func] = dict(mixed)
        return shares[func]

    parts: Counter[str] = Counter()
    for func, (_, _, own, _, _) in table.items():
        for name, fraction in share_of(func).items():
            parts[name] += own * fraction
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-journal", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="functions listed by own time")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "profile_import.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, profile = Path(tmp, "customers.csv"), Path(tmp, "import.prof")
        write_csv(csv_path, args.rows)
        journal = None if args.no_journal else Path(tmp, "import.journal")
        with limited_api("plain") as url:
            command = cli_command(csv_path, url, str(args.concurrency), journal, ["--quiet"])
            command[1:2] = ["-c", PROFILER, str(profile)]  # then the module, its arguments
            _, _, cpu = run_process(command)
            seen = stats(url)
        if seen["customers"] != args.rows or seen["distinct_emails"] != args.rows:
            raise RuntimeError(f"not each row exactly once: the server saw {seen}")
        loaded = pstats.Stats(str(profile))
    parts = by_part(loaded)
    profiled = sum(parts.values())
    result = {
        "rows": args.rows,
        "concurrency": args.concurrency,
        "journal": journal is not None,
        "cpu_seconds_under_cprofile": round(cpu, 2),
        "profiled_us_per_row": round(profiled / args.rows * 1e6, 1),
        "parts_us_per_row": {
            part: round(seconds / args.rows * 1e6, 1) for part, seconds in parts.most_common()
        },
    }
    print(f"{args.rows:,} rows, concurrency {args.concurrency}, journal {result['journal']}; "
          f"{cpu:.2f} s CPU under cProfile, {profiled:.2f} s profiled")  # fmt: skip
    for part, seconds in parts.most_common():
        print(f"  {part:<28} {seconds / args.rows * 1e6:7.1f} us/row  {seconds / profiled:6.1%}")
    loaded.sort_stats("tottime").print_stats(args.top)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
