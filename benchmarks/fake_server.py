"""The loopback fake eComCharge for the benchmarks, in a process of its own.

`python benchmarks/fake_server.py --customers 10000` preloads the shop, serves
it on 127.0.0.1 (a free port), prints the base URL on one line and serves
until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _common import SECRET_KEY, SHOP_ID, sample_customer

from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import serve


async def _serve(customers: int) -> None:
    fake = FakeEcomCharge(SHOP_ID, SECRET_KEY, seed=1)
    for i in range(customers):
        fake.add(**sample_customer(i))
    async with serve(fake, host="127.0.0.1", port=0) as url:
        print(url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=0, help="customers to preload")
    asyncio.run(_serve(parser.parse_args().customers))


if __name__ == "__main__":
    main()
