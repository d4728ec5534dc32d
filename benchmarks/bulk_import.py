"""Bulk-import throughput and memory over real HTTP.

Starts the fake eComCharge in a separate process (`python -m ecomcharge_async.testing
serve`), imports N generated customers into it with `import_customers` over the
default aiohttp transport, and reports rows per second and the peak RSS of the
importing process (its `VmHWM`, see `_common.peak_rss_mib`). Rows are
generated lazily, so the peak RSS shows what the import itself holds.

    python benchmarks/bulk_import.py                      # 100,000 rows, concurrency 64
    python benchmarks/bulk_import.py --rows 10000 --journal --json result.json

`run(rounds=...)` is what benchmarks/run.py calls: 20,000 and 200,000 rows, each
round in a fresh process (peak RSS is per process), medians and the RSS ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import peak_rss_mib  # type: ignore[import-not-found]

import ecomcharge_async as ec
from ecomcharge_async.bulk import import_customers

SHOP_ID = "361"
SECRET = "bench-secret"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rows(count: int) -> Iterator[ec.NewCustomer]:
    for n in range(count):
        yield ec.NewCustomer(
            email=f"customer{n}@example.com",
            ip=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
            first_name="Jane",
            last_name=f"Doe{n}",
            address=f"{n % 9999 + 1} Main St",
            city="Denver",
            country="US",
            zip=f"{80000 + n % 1000:05d}",
            state="CO",
            phone=f"+1 303 555 {n % 10000:04d}",
        )


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [
        *(sys.executable, "-m", "ecomcharge_async.testing", "serve", "--port", "0"),
        *("--shop-id", SHOP_ID, "--secret-key", SECRET, "--seed", "1"),
        *("--latency", str(latency)),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 30)
    if not ready:
        server.kill()
        raise RuntimeError("the fake server did not start within 30 s")
    return server, server.stdout.readline().strip()


async def import_once(args: argparse.Namespace, url: str) -> dict[str, Any]:
    transport = ec.AiohttpTransport(timeout=None, limit=args.concurrency)
    # retry=None, as the CLI does: the importer retries itself (see docs/guides/bulk.md).
    client = ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport, retry=None)
    async with client:
        with tempfile.TemporaryDirectory() as tmp:
            journal = Path(tmp, "bench.journal") if args.journal else None
            rss_before = peak_rss_mib()
            cpu_before = cpu_seconds()
            started = time.perf_counter()
            report = await import_customers(
                client, rows(args.rows), concurrency=args.concurrency, journal=journal
            )
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
            rss_peak = peak_rss_mib()
            journal_bytes = journal.stat().st_size if journal is not None else 0
        held = len(await client.customers.list())  # after the RSS reading: it decodes all
    if not report.ok or held != args.rows:
        raise RuntimeError(f"import incomplete: {report}, the shop holds {held}")
    return {
        "rows": args.rows,
        "concurrency": args.concurrency,
        "journal": args.journal,
        "server_latency_s": args.latency,
        "elapsed_s": round(elapsed, 2),
        "rows_per_s": round(args.rows / elapsed),
        "client_cpu_s": round(cpu, 2),
        "peak_rss_mib": round(rss_peak, 1),
        "rss_before_import_mib": round(rss_before, 1),
        "journal_bytes": journal_bytes,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def run(
    rounds: int = 3, sizes: tuple[int, ...] = (20_000, 200_000), concurrency: int = 64
) -> dict[str, Any]:
    """Median rows/s and peak RSS per size, each round a fresh importing process."""
    figures: dict[str, Any] = {}
    for size in sizes:
        results = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp, "result.json")
                subprocess.run(
                    [sys.executable, __file__, "--rows", str(size),
                     "--concurrency", str(concurrency), "--json", str(out)],
                    check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                results.append(json.loads(out.read_text()))
        figures[str(size)] = {
            "rows": size,
            "concurrency": concurrency,
            "rounds": rounds,
            "median_rows_per_s": statistics.median(r["rows_per_s"] for r in results),
            "median_peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in results),
        }
    if len(sizes) == 2:
        small, large = (figures[str(size)]["median_peak_rss_mib"] for size in sizes)
        figures["ratios"] = {"peak_rss_large_vs_small": {"median": round(large / small, 3)}}
    return figures


def table(result: dict[str, Any]) -> str:
    width = max(map(len, result))
    return "\n".join(f"{key:<{width}}  {value}" for key, value in result.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--journal", action="store_true", help="write a journal (temp dir)")
    parser.add_argument("--latency", type=float, default=0.0, help="server delay per request")
    parser.add_argument("--json", metavar="PATH", help="also write the result here")
    args = parser.parse_args()
    server, url = start_server(args.latency)
    try:
        result = asyncio.run(import_once(args, url))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    print(table(result))
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
