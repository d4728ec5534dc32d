"""`ecomcharge import` against the hand-written script, on the same loopback server.

Each round starts a fresh loopback fake (benchmarks/limited_api.py `plain`),
then runs each contender in a process of its own on the same CSV of `--rows`
customers, in an order that alternates between rounds: the hand-written
script (benchmarks/hand_import.py), the same script on the SDK's client
(benchmarks/sdk_import.py: what the SDK's request path adds), `ecomcharge
import` without a journal, `ecomcharge import --journal` (both at
`--concurrency`), and `ecomcharge import` at its defaults (`--concurrency
auto`, a journal). Client CPU is the contender process's whole CPU time (user +
system, start-up included) per row; rows/s is the contender's own timing of
its import. The server's count checks each row was created exactly once.
Medians and min-max over the rounds, per-round ratios to the script, and issue
27's targets for the defaults with PASS or FAIL.

Before the rounds every contender runs once, untimed, on a few rows, with
`PYTHONDONTWRITEBYTECODE` dropped from its environment: each then starts from
compiled bytecode, as after `pip install`, the script's aiohttp as our
package. Set, every start compiles the modules it imports from source: the
script's start took 375 ms of CPU then against 215 from bytecode, the CLI's
505-545 against 255-260 (1 row, medians of 7), more than the CLI's whole
start-up gap; benchmarks/startup.py compiles the package for the same reason.

    python benchmarks/import_peer.py --rows 20000 --rounds 5 --concurrency 64
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import paired_ratio, sample_customer, summary
from limited_api import SECRET_KEY, SHOP_ID, limited_api, stats

HERE = Path(__file__).resolve().parent
COLUMNS = ("email", "ip", "first_name", "last_name", "address", "country", "city", "zip", "state",
           "phone")  # fmt: skip
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
ENV.update(ECOMCHARGE_SHOP_ID=SHOP_ID, ECOMCHARGE_SECRET_KEY=SECRET_KEY)
WARM_UP_ROWS = 20


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows(sample_customer(i) for i in range(rows))


def run_process(command: Sequence[str], ok: Sequence[int] = (0,)) -> tuple[str, str, float]:
    """Run one contender to its end: its stdout, its stderr and the CPU seconds it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise RuntimeError(f"{command[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return done.stdout, done.stderr, cpu


def cli_has(option: str) -> bool:
    """Whether today's `ecomcharge import` knows `option` (it grows with the issues)."""
    command = [sys.executable, "-m", "ecomcharge_async", "import", "--help"]
    return option in subprocess.run(command, capture_output=True, text=True, check=True).stdout


def cli_command(
    path: Path, url: str, concurrency: str, journal: Path | None, extra: Sequence[str] = ()
) -> list[str]:
    command = [sys.executable, "-m", "ecomcharge_async", "import", str(path), "--base-url", url,
               "--concurrency", concurrency, "--json", *extra]  # fmt: skip
    if journal is not None:
        command += ["--journal", str(journal)]
    elif cli_has("--no-journal"):
        command.append("--no-journal")
    return command


def check_exactly_once(url: str, rows: int) -> dict[str, Any]:
    seen = stats(url)
    if seen["customers"] != rows or seen["distinct_emails"] != rows:
        raise RuntimeError(f"not each row exactly once: {rows} rows, the server saw {seen}")
    return seen


def one_round(path: Path, rows: int, concurrency: int, order: Sequence[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in order:
            with limited_api("plain") as url:
                if name in SCRIPTS:
                    command = [sys.executable, str(HERE / SCRIPTS[name]), str(path), url,
                               str(concurrency)]  # fmt: skip
                else:
                    journal = Path(tmp, f"{name}.journal") if name != "cli" else None
                    setting = "auto" if name == "cli_default" else str(concurrency)
                    command = cli_command(path, url, setting, journal, ["--quiet"])
                out, _, cpu = run_process(command)
                result = json.loads(out)
                check_exactly_once(url, rows)
            figures[name] = {
                "rows_per_s": rows / result["elapsed_seconds"],
                "cpu_us_per_row": cpu / rows * 1e6,
            }
    return figures


CONTENDERS = ("script", "sdk", "cli", "cli_journal", "cli_default")
SCRIPTS = {"script": "hand_import.py", "sdk": "sdk_import.py"}
#: Issue 27: the import at its defaults against the script, (ratio, bound).
TARGETS = (
    ("defaults: client CPU per row / the script's", "cli_default_cpu_vs_script", "<=", 1.0),
    ("defaults: rows/s / the script's", "cli_default_rate_vs_script", ">=", 1.0),
)


def run(rows: int = 20_000, rounds: int = 5, concurrency: int = 64) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path, few = Path(tmp, "customers.csv"), Path(tmp, "warm-up.csv")
        write_csv(path, rows)
        write_csv(few, WARM_UP_ROWS)
        one_round(few, WARM_UP_ROWS, concurrency, CONTENDERS)  # bytecode written, files cached
        per_round = []
        for n in range(rounds):
            order = CONTENDERS if n % 2 == 0 else CONTENDERS[::-1]
            per_round.append(one_round(path, rows, concurrency, order))
    result: dict[str, Any] = {"rows": rows, "rounds": rounds, "concurrency": concurrency,
                              "contenders": {}, "ratios": {}}  # fmt: skip
    for name in CONTENDERS:
        result["contenders"][name] = {
            key: summary([r[name][key] for r in per_round]) for key in per_round[0][name]
        }
    for name in CONTENDERS[1:]:
        for key, label in (("cpu_us_per_row", "cpu"), ("rows_per_s", "rate")):
            ours = [r[name][key] for r in per_round]
            theirs = [r["script"][key] for r in per_round]
            result["ratios"][f"{name}_{label}_vs_script"] = paired_ratio(ours, theirs)
    result["targets"] = targets(result["ratios"])
    return result


def targets(ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its median ratio (min-max) and whether the median holds."""
    report = []
    for what, key, op, bound in TARGETS:
        fig = ratios[key]
        holds = fig["median"] <= bound if op == "<=" else fig["median"] >= bound
        report.append({"what": what, "target": f"{op} {bound:.2f}", "measured": fig,
                       "holds": holds})  # fmt: skip
    return report


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['rows']:,} rows, concurrency {result['concurrency']}, "
        f"{result['rounds']} rounds; median (min-max)",
        f"  {'':<12} {'rows/s':<22} client CPU us/row",
    ]
    for name, fig in result["contenders"].items():
        lines.append(
            f"  {name:<12} {_spread(fig['rows_per_s'], 0):<22} {_spread(fig['cpu_us_per_row'], 0)}"
        )
    for name, fig in result["ratios"].items():
        lines.append(f"  {name:<28} {_spread(fig, 2)}")
    for t in result["targets"]:
        state = "PASS" if t["holds"] else "FAIL"
        lines.append(f"  {t['what']:<46} {t['target']:<8} {_spread(t['measured'], 2):<18} {state}")
    return "\n".join(lines)


def _spread(fig: dict[str, float], digits: int) -> str:
    return f"{fig['median']:.{digits}f} ({fig['min']:.{digits}f}-{fig['max']:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "import_peer.json")
    args = parser.parse_args()
    load_before, started = os.getloadavg(), datetime.now(UTC).isoformat(timespec="seconds")
    result = run(args.rows, args.rounds, args.concurrency)
    result["load_average"] = {"start": load_before, "end": os.getloadavg()}
    result["started"] = started
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "load_average_at_start": load_before,
                         "load_average_at_end": os.getloadavg()}  # fmt: skip
    print(render(result))
    print(f"load average {load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
