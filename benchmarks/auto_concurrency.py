"""`ecomcharge import` against a rate-limited and a slow loopback API, by --concurrency.

Two APIs (benchmarks/limited_api.py): `bucket`, 250 requests/s with a burst
of 25 and 429 beyond, 20 ms per answer; `slow`, no limit, 200 ms per answer.
Each run starts a fresh API, runs the CLI (`--json`, progress lines every
half second) with one --concurrency setting, and records rows/s, the share
of requests answered 429 (the server's count), the concurrency reached over
time when the progress lines or the summary show it, and checks with the
server's count that each created row was created exactly once. Settings the
CLI does not take yet (`auto` before it is wired) are reported as skipped.

    python benchmarks/auto_concurrency.py --rounds 3 --rows 20000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import paired_ratio, summary
from import_peer import cli_command, run_process, write_csv
from limited_api import limited_api, stats

HERE = Path(__file__).resolve().parent
#: API kind -> the --concurrency settings measured against it.
SETTINGS = {"bucket": ("16", "auto"), "slow": ("16", "64", "256", "auto")}
_CONCURRENCY = re.compile(r"concurrency\D{0,3}(\d+)")
#: Seconds between progress lines: the n-th line is printed about n * EVERY s in.
EVERY = 0.5


def accepts(setting: str) -> bool:
    """Whether today's CLI takes `--concurrency setting` (argparse names the option if not)."""
    command = [sys.executable, "-m", "ecomcharge_async", "import", "-", "--fake",
               "--concurrency", setting, "--quiet"]  # fmt: skip
    done = subprocess.run(command, input="", capture_output=True, text=True, check=False)
    return "argument --concurrency" not in done.stderr


def concurrency_seen(stderr: str, summary_json: dict[str, Any]) -> dict[str, Any]:
    """The concurrency over time from the progress lines, and the peak from the summary."""
    series = []
    lines = [line for line in stderr.splitlines() if line.startswith("progress:")]
    for n, line in enumerate(lines, 1):
        found = _CONCURRENCY.search(line)
        if found is not None:
            series.append([n * EVERY, int(found.group(1))])
    peak = summary_json.get("concurrency") or summary_json.get("peak_concurrency")
    return {"series": series, "peak": peak}


def one_run(kind: str, setting: str, path: Path, rows: int) -> dict[str, Any]:
    with limited_api(kind) as url:
        extra = ["--progress-every", str(EVERY)]
        command = cli_command(path, url, setting, None, extra)
        out, err, cpu = run_process(command, ok=(0, 1))
        result = json.loads(out)
        seen = stats(url)
    if seen["customers"] != result["created"] or seen["distinct_emails"] != seen["customers"]:
        raise RuntimeError(f"not each created row exactly once: {result}, server {seen}")
    return {
        "rows_per_s": result["created"] / result["elapsed_seconds"],
        "created": result["created"],
        "failed": result["failed"],
        "requests": seen["requests"],
        "share_429": seen["rate_limited"] / max(seen["requests"], 1),
        "client_cpu_us_per_row": cpu / rows * 1e6,
        "concurrency": concurrency_seen(err, result),
    }


def run(rows: int, rounds: int, settings: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    result: dict[str, Any] = {"rows": rows, "rounds": rounds, "apis": {}, "skipped": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "customers.csv")
        write_csv(path, rows)
        for kind, wanted in settings.items():
            usable = [s for s in wanted if accepts(s)]
            result["skipped"] += [f"{kind} --concurrency {s}: the CLI does not take it yet"
                                  for s in wanted if s not in usable]  # fmt: skip
            runs: dict[str, list[dict[str, Any]]] = {s: [] for s in usable}
            for n in range(rounds):
                for setting in usable if n % 2 == 0 else usable[::-1]:
                    runs[setting].append(one_run(kind, setting, path, rows))
            result["apis"][kind] = {
                setting: {
                    "rows_per_s": summary([r["rows_per_s"] for r in done]),
                    "share_429": summary([r["share_429"] for r in done]),
                    "client_cpu_us_per_row": summary([r["client_cpu_us_per_row"] for r in done]),
                    "failed": [r["failed"] for r in done],
                    "concurrency": [r["concurrency"] for r in done],
                    "rows_per_s_rounds": [r["rows_per_s"] for r in done],
                }
                for setting, done in runs.items()
            }
    result["targets"] = targets(result["apis"])
    result["ratios"] = ratios(result["apis"])
    return result


def ratios(apis: dict[str, Any]) -> dict[str, Any]:
    """The targets' figures as median (min-max) over the rounds, for run.py."""
    found: dict[str, Any] = {}
    bucket = apis.get("bucket", {}).get("auto")
    if bucket is not None:
        found["bucket_rate_vs_250"] = summary([r / 250 for r in bucket["rows_per_s_rounds"]])
        found["bucket_share_429"] = bucket["share_429"]
    slow = apis.get("slow", {})
    fixed = [slow[s]["rows_per_s_rounds"] for s in ("16", "64", "256") if s in slow]
    if "auto" in slow and fixed:
        # Within a round, auto against the best fixed setting of that round.
        best = [max(per_round) for per_round in zip(*fixed, strict=True)]
        found["slow_auto_vs_best_fixed"] = paired_ratio(slow["auto"]["rows_per_s_rounds"], best)
    return found


def targets(apis: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 27's targets for `auto`, with PASS/FAIL (None: not measured)."""
    bucket = apis.get("bucket", {}).get("auto")
    slow = apis.get("slow", {})
    fixed = [slow[s]["rows_per_s"]["median"] for s in ("16", "64", "256") if s in slow]
    report = []
    for what, measured, bound in (
        ("bucket: rows/s vs the bucket's 250/s", bucket and bucket["rows_per_s"]["median"] / 250,
         ">= 0.90"),
        ("bucket: share of requests answered 429", bucket and bucket["share_429"]["median"],
         "<= 0.02"),
        ("slow: rows/s vs the best fixed of 16/64/256",
         "auto" in slow and fixed and slow["auto"]["rows_per_s"]["median"] / max(fixed),
         ">= 0.90"),
    ):  # fmt: skip
        holds = None
        if measured:
            op, limit = bound.split()
            holds = measured >= float(limit) if op == ">=" else measured <= float(limit)
        report.append({"what": what, "target": bound, "measured": measured or None,
                       "holds": holds})  # fmt: skip
    return report


def render(result: dict[str, Any]) -> str:
    lines = [f"{result['rows']:,} rows, {result['rounds']} rounds; median (min-max)"]
    for kind, settings in result["apis"].items():
        lines.append(f"  {kind:<7} --concurrency  rows/s              429 share      CPU us/row")
        for setting, fig in settings.items():
            r, s, c = fig["rows_per_s"], fig["share_429"], fig["client_cpu_us_per_row"]
            lines.append(
                f"  {'':<7} {setting:<14} {r['median']:7.0f} ({r['min']:.0f}-{r['max']:.0f})"
                f"   {s['median']:6.1%} ({s['min']:.1%}-{s['max']:.1%})"
                f"   {statistics.median(c['rounds']):.0f}"
            )
    lines += [f"  skipped: {why}" for why in result["skipped"]]
    for t in result["targets"]:
        state = {True: "PASS", False: "FAIL", None: "not measured"}[t["holds"]]
        shown = "-" if t["measured"] is None else f"{t['measured']:.3f}"
        lines.append(f"  {t['what']:<46} {t['target']:<8} {shown:<8} {state}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apis", nargs="+", choices=sorted(SETTINGS), default=sorted(SETTINGS))
    parser.add_argument("--settings", nargs="+", help="--concurrency settings (default: per API)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "auto_concurrency.json")
    args = parser.parse_args()
    settings = {k: tuple(args.settings) if args.settings else SETTINGS[k] for k in args.apis}
    load_before = os.getloadavg()
    result = run(args.rows, args.rounds, settings)
    result["load_average"] = {"start": load_before, "end": os.getloadavg()}
    print(render(result))
    print(f"load average {load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
