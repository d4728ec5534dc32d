"""The import's limiters on real HTTP, before the importer uses them.

Against the shaped loopback APIs (benchmarks/limited_api.py), `--rows`
customers are created with our Client through an `AdaptiveLimiter` (or a
`FixedLimiter` of a given size) the way the importer will drive it: workers
up to the ceiling, each create between `acquire` and `release`, a row
answered 429 or 503 sent again. It records rows/s, the share of 429s, and
the limit and pace every quarter second (the chart of concurrency over
time), and checks with the server's count that each row was created once.

    python benchmarks/limiter_preview.py --rows 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from _common import sample_customer, summary
from limited_api import SECRET_KEY, SHOP_ID, limited_api, stats

import ecomcharge_async as ec
from ecomcharge_async.bulk._limiter import AdaptiveLimiter
from ecomcharge_async.bulk._slots import FixedLimiter, Outcome, outcome_of

HERE = Path(__file__).resolve().parent
#: Fixed 16 is left out: against 200 ms it moves 80 rows/s at most (Little's law).
SETTINGS = {"bucket": ("auto",), "slow": ("64", "256", "auto")}


async def import_rows(url: str, rows: int, setting: str) -> dict[str, Any]:
    limiter: AdaptiveLimiter | FixedLimiter
    if setting == "auto":
        limiter = AdaptiveLimiter(clock=time.monotonic, sleep=asyncio.sleep)
    else:
        limiter = FixedLimiter(int(setting), clock=time.monotonic, sleep=asyncio.sleep)
    transport = ec.AiohttpTransport(timeout=None, limit=max(100, limiter.maximum))
    client = ec.Client(SHOP_ID, SECRET_KEY, base_url=url, transport=transport, retry=None)
    customers = iter([ec.NewCustomer(**sample_customer(i)) for i in range(rows)])
    series: list[tuple[float, int, float | None]] = []
    started = time.monotonic()

    async def worker() -> None:
        for customer in customers:
            while True:
                token = await limiter.acquire()
                outcome = Outcome.OTHER
                try:
                    await client.customers.create(customer)
                    outcome = Outcome.OK
                except ec.EcomChargeError as exc:
                    outcome = outcome_of(exc)
                    if outcome not in (Outcome.RATE_LIMITED, Outcome.OVERLOADED):
                        raise
                finally:
                    limiter.release(token, outcome)
                if outcome is Outcome.OK:
                    break

    async def sample() -> None:
        while True:
            rate = round(limiter.rate, 1) if limiter.rate is not None else None
            series.append((round(time.monotonic() - started, 2), limiter.limit, rate))
            await asyncio.sleep(0.25)

    async with client:
        sampler = asyncio.create_task(sample())
        async with asyncio.TaskGroup() as group:
            for _ in range(limiter.maximum):
                group.create_task(worker())
        elapsed = time.monotonic() - started
        sampler.cancel()
    return {"rows_per_s": rows / elapsed, "peak": limiter.peak, "series": series}


def run(rows: int, rounds: int, settings: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    result: dict[str, Any] = {"rows": rows, "rounds": rounds, "apis": {}}
    for kind, wanted in settings.items():
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in wanted}
        for n in range(rounds):
            for setting in wanted if n % 2 == 0 else wanted[::-1]:
                with limited_api(kind) as url:
                    figures = asyncio.run(import_rows(url, rows, setting))
                    seen = stats(url)
                if seen["customers"] != rows or seen["distinct_emails"] != rows:
                    raise RuntimeError(f"not each row exactly once: {rows} rows, server {seen}")
                figures["share_429"] = seen["rate_limited"] / seen["requests"]
                runs[setting].append(figures)
        result["apis"][kind] = {
            setting: {
                "rows_per_s": summary([r["rows_per_s"] for r in done]),
                "share_429": summary([r["share_429"] for r in done]),
                "peak": [r["peak"] for r in done],
                "series_first_round": done[0]["series"],
            }
            for setting, done in runs.items()
        }
    return result


def render(result: dict[str, Any]) -> str:
    lines = [f"{result['rows']:,} rows, {result['rounds']} rounds; median (min-max)"]
    for kind, settings in result["apis"].items():
        for setting, fig in settings.items():
            r, s = fig["rows_per_s"], fig["share_429"]
            lines.append(
                f"  {kind:<7} {setting:<5} {r['median']:7.0f} rows/s "
                f"({r['min']:.0f}-{r['max']:.0f})"
                f"  429s {s['median']:.2%} ({s['min']:.2%}-{s['max']:.2%})  peak {fig['peak']}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apis", nargs="+", choices=sorted(SETTINGS), default=sorted(SETTINGS))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "limiter_preview.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = run(args.rows, args.rounds, {kind: SETTINGS[kind] for kind in args.apis})
    result["load_average"] = {"start": load_before, "end": os.getloadavg()}
    print(render(result))
    print(f"load average {load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
