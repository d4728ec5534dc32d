"""The import a careful user writes by hand: csv, a semaphore, json; no journal, no retries.

`python benchmarks/hand_import.py CSV URL CONCURRENCY` creates one customer per
row and prints {"rows", "failed", "elapsed_seconds"} as JSON. It is the peer
`ecomcharge import` is measured against (benchmarks/import_peer.py).
"""

import asyncio
import csv
import json
import os
import sys
import time

import aiohttp


async def main(rows: list[dict[str, str]], url: str, concurrency: int) -> int:
    auth = aiohttp.encode_basic_auth(
        os.environ["ECOMCHARGE_SHOP_ID"], os.environ["ECOMCHARGE_SECRET_KEY"]
    )
    headers = {
        "Authorization": auth,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    limit, failed = asyncio.Semaphore(concurrency), 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def create(row: dict[str, str]) -> None:
            nonlocal failed
            body = json.dumps({k: v for k, v in row.items() if v})
            async with limit, session.post(url + "/customers", data=body, headers=headers) as resp:
                json.loads(await resp.read())
                failed += resp.status != 201

        await asyncio.gather(*(create(row) for row in rows))
    return failed


started = time.perf_counter()
with open(sys.argv[1], newline="") as file:
    rows = list(csv.DictReader(file))
failed = asyncio.run(main(rows, sys.argv[2], int(sys.argv[3])))
elapsed = time.perf_counter() - started
print(json.dumps({"rows": len(rows), "failed": failed, "elapsed_seconds": elapsed}))
