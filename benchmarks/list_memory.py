"""Peak memory and speed of `customers.iter()` against `customers.list()` over real HTTP.

    python benchmarks/list_memory.py [--big 1000000] [--small 100000] [--rounds 3]

A loopback fake server (`python -m ecomcharge_async.testing serve --customers N`)
runs in its own process; each measurement runs in a fresh client process, so its
peak RSS (`VmHWM`) is that one operation's plus the interpreter's. Prints a
table and writes benchmarks/results/list_memory.json. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import peak_rss_mib  # type: ignore[import-not-found]

SHOP_ID, SECRET = "361", "bench-secret"
RESULTS = Path(__file__).parent / "results" / "list_memory.json"


async def measure(mode: str, url: str) -> dict[str, Any]:
    import ecomcharge_async as ec

    before = peak_rss_mib()
    started = time.perf_counter()
    async with ec.Client(SHOP_ID, SECRET, base_url=url, timeout=600) as client:
        if mode == "iter":
            count = 0
            async for _ in client.customers.iter():
                count += 1
        elif mode == "list":
            count = len(await client.customers.list())
        else:  # "idle": the interpreter with the SDK imported and a client opened
            count = 0
    seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "customers": count,
        "seconds": seconds,
        "customers_per_s": count / seconds if count else 0.0,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mib(),
    }


@contextmanager
def fake_server(customers: int) -> Iterator[str]:
    command = [
        *(sys.executable, "-m", "ecomcharge_async.testing", "serve"),
        *("--shop-id", SHOP_ID, "--secret-key", SECRET, "--customers", str(customers)),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=30)


def child(mode: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(*args.child))))
        return

    runs: dict[str, list[dict[str, Any]]] = {}
    with fake_server(args.small) as url:
        for _ in range(args.rounds):
            for mode in ("idle", "list", "iter"):
                runs.setdefault(f"{mode} {args.small:,}", []).append(child(mode, url))
    with fake_server(args.big) as url:
        for _ in range(args.rounds):
            runs.setdefault(f"iter {args.big:,}", []).append(child("iter", url))

    rows = []
    print(f"{'what':<18}{'customers':>11}{'median s':>10}{'cust/s':>10}{'peak RSS MB':>13}")
    for name, results in runs.items():
        row = {
            "what": name,
            "customers": results[0]["customers"],
            "median_seconds": statistics.median(r["seconds"] for r in results),
            "median_customers_per_s": statistics.median(r["customers_per_s"] for r in results),
            "median_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
            "rounds": len(results),
        }
        rows.append(row)
        print(
            f"{name:<18}{row['customers']:>11,}{row['median_seconds']:>10.2f}"
            f"{row['median_customers_per_s']:>10,.0f}{row['median_peak_rss_mb']:>13.1f}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"python": platform.python_version(), "machine": platform.machine(), "rows": rows},
            indent=2,
        )
        + "\n"
    )
    print(f"written to benchmarks/results/{RESULTS.name}")


if __name__ == "__main__":
    main()
