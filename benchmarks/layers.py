"""Instructions per call of each SDK layer, counted by valgrind: exact on a shared machine.

`python benchmarks/layers.py` (needs `valgrind`; about a minute). CPU time on a
machine other people are using drifts by 10-20 % between runs; the number of
machine instructions a call executes does not. Each figure is the difference
between a run of 3,000 calls and one of 500, divided by 2,500, so start-up
and imports cancel out. The transport is in memory and yields to the event
loop once per call, as real I/O would. Cache misses and garbage collection are
not in these counts; they are in `run.py`'s CPU times.

Levels, innermost first (each includes the ones before it):
`transport` the transport alone; `timeout` + the chain's last link (per-attempt timeout);
`chain` + the retry and logging middleware; `send` + `Client.send` (builds the
`Request`, checks the status); `create` + encoding the `NewCustomer` and
decoding the `Customer`. The JSON rows compare our encode and decode with
what a hand-written caller does with the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import HERE, PAYLOAD, SECRET_KEY, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async._core.serde import decode_customer, encode_new_customer

FEW, MANY = 500, 3000
CUSTOMER_BODY = json.dumps({"id": "cst_0123456789abcdef", **PAYLOAD}).encode()
RESPONSE = ec.Response(
    status=201,
    headers={"Content-Type": "application/json", "Content-Length": str(len(CUSTOMER_BODY))},
    body=CUSTOMER_BODY,
)
CHAIN_LEVELS = ("transport", "timeout", "chain", "send", "create")
JSON_OPS = ("encode_new_customer", "decode_customer", "json.dumps+encode", "json.loads")


class YieldingTransport:
    """Answers every request with the same 201, after one trip through the event loop."""

    async def send(self, request: ec.Request) -> ec.Response:
        await asyncio.sleep(0)
        return RESPONSE

    async def aclose(self) -> None:
        pass


async def _run_level(level: str, calls: int) -> None:
    client = ec.Client(SHOP_ID, SECRET_KEY, transport=YieldingTransport())
    body = encode_new_customer(ec.NewCustomer(**PAYLOAD))
    requester = client._requester
    request = ec.Request(
        method="POST",
        url=client.base_url + "/customers",
        headers=requester._json_headers,
        body=body,
        timeout=requester.timeout,  # as the client sends it, so the last link runs its timer
        retry=requester.retry,
    )
    customer = ec.NewCustomer(**PAYLOAD)
    steps: dict[str, Callable[[], Any]] = {
        "transport": lambda: client._transport.send(request),
        "timeout": lambda: client._attempt(request),
        "chain": lambda: client._handler(request),
        "send": lambda: client.send("POST", "/customers", body),
        "create": lambda: client.customers.create(customer),
    }
    step = steps[level]
    for _ in range(calls):
        await step()


def _run_json(op: str, calls: int) -> None:
    customer = ec.NewCustomer(**PAYLOAD)
    ops: dict[str, Callable[[], Any]] = {
        "encode_new_customer": lambda: encode_new_customer(customer),
        "decode_customer": lambda: decode_customer(CUSTOMER_BODY),
        "json.dumps+encode": lambda: json.dumps(PAYLOAD).encode(),
        "json.loads": lambda: json.loads(CUSTOMER_BODY),
    }
    run = ops[op]
    for _ in range(calls):
        run()


def _instructions(what: str, calls: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--child", what, str(calls)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    collected = [line for line in done.stderr.splitlines() if "Collected" in line]
    return int(collected[0].split()[-1])


def per_call(what: str) -> float:
    return (_instructions(what, MANY) - _instructions(what, FEW)) / (MANY - FEW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "layers.json")
    args = parser.parse_args()
    if args.child:
        what, calls = args.child[0], int(args.child[1])
        if what in CHAIN_LEVELS:
            asyncio.run(_run_level(what, calls))
        else:
            _run_json(what, calls)
        return
    if shutil.which("valgrind") is None:
        sys.exit("layers.py needs valgrind (apt-get install valgrind)")
    results: dict[str, Any] = {"levels": {}, "json": {}}
    previous = None
    print("instructions per call (valgrind callgrind)")
    for level in CHAIN_LEVELS:
        count = per_call(level)
        added = "" if previous is None else f"  (+{count - previous:,.0f})"
        print(f"  {level:<22} {count:>9,.0f}{added}")
        results["levels"][level] = {"instructions": count}
        previous = count
    for op in JSON_OPS:
        count = per_call(op)
        print(f"  {op:<22} {count:>9,.0f}")
        results["json"][op] = {"instructions": count}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
