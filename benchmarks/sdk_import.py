"""The hand-written import (benchmarks/hand_import.py) with the SDK's client instead of aiohttp.

`python benchmarks/sdk_import.py CSV URL CONCURRENCY` reads the CSV with csv,
creates one customer per row with `client.customers.create` under a semaphore
(no journal, no retries) and prints {"rows", "failed", "elapsed_seconds"} as
JSON. Beside the script and `ecomcharge import` (benchmarks/import_peer.py) it
splits the import's cost: the SDK's per-create cost over plain aiohttp, and the
importer's over the SDK.
"""

import asyncio
import csv
import json
import sys
import time

from ecomcharge_async import Client, EcomChargeError, NewCustomer


async def main(rows: list[dict[str, str]], url: str, concurrency: int) -> int:
    limit, failed = asyncio.Semaphore(concurrency), 0
    async with Client(base_url=url, retry=None) as client:

        async def create(row: dict[str, str]) -> None:
            nonlocal failed
            customer = NewCustomer(**{k: v for k, v in row.items() if v})
            async with limit:
                try:
                    await client.customers.create(customer)
                except EcomChargeError:
                    failed += 1

        await asyncio.gather(*(create(row) for row in rows))
    return failed


started = time.perf_counter()
with open(sys.argv[1], newline="") as file:
    rows = list(csv.DictReader(file))
failed = asyncio.run(main(rows, sys.argv[2], int(sys.argv[3])))
elapsed = time.perf_counter() - started
print(json.dumps({"rows": len(rows), "failed": failed, "elapsed_seconds": elapsed}))
