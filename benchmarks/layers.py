"""Instructions per call of each SDK layer, counted by valgrind: exact on a shared machine.

`python benchmarks/layers.py` (needs `valgrind`; about five minutes). CPU time
on a machine other people are using drifts by 10-20 % between runs; the
number of machine instructions a call executes does not. Each figure is the
difference between a run of 3,000 calls and one of 500, divided by 2,500, so
start-up and imports cancel out.

Layers: the transport is in memory and yields to the event loop once per
call, as real I/O would; like the SDK's HTTP transports it bounds its own
attempts, so the chain adds no timer. Levels, innermost first (each includes
the ones before it): `transport` the transport alone; `attempt` + the
chain's last link; `chain` + the retry and logging middleware; `send` +
`Requester.call` (builds the `Request`, checks the status, an identity
decoder); `create` + `Customers.create` (encodes the `NewCustomer`, decodes
the `Customer`). `timer` is the last link for a transport that does not bound
its attempts (a transport you write): `asyncio.timeout` around each attempt.
The JSON rows compare our encode and decode with what a hand-written caller
does with the standard library.

Loopback: a whole create over 127.0.0.1 against the fake server in its own
process (not counted), at concurrency 64, for our client and raw aiohttp as
`creates.py` drives them, garbage collections included. Under valgrind the
client is about 50 times slower than the server, so every answer is waiting
when the client looks: the counts compare the work, not the timing. Cache
misses are not in any count; they are in `run.py`'s CPU times.
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

import creates
from _common import HERE, PAYLOAD, SECRET_KEY, SHOP_ID, fake_server

import ecomcharge_async as ec
from ecomcharge_async._core.customers import CUSTOMER, NEW_CUSTOMER
from ecomcharge_async._core.transport_link import TransportLink

decode_customer, encode_new_customer = CUSTOMER.decode, NEW_CUSTOMER.encode

FEW, MANY = 500, 3000
CUSTOMER_BODY = json.dumps({"id": "cst_0123456789abcdef", **PAYLOAD}).encode()
RESPONSE = ec.Response(
    status=201,
    headers={"Content-Type": "application/json", "Content-Length": str(len(CUSTOMER_BODY))},
    body=CUSTOMER_BODY,
)
CHAIN_LEVELS = ("transport", "attempt", "chain", "send", "create")
LOOPBACK_CLIENTS = ("ecomcharge_async", "raw_aiohttp")
LOOPBACK_CONCURRENCY = 64
JSON_OPS = ("encode_new_customer", "decode_customer", "json.dumps+encode", "json.loads")


class YieldingTransport:
    """Answers every request with the same 201, after one trip through the event loop."""

    #: As the SDK's HTTP transports: the client adds no timer around an attempt.
    bounds_attempts = True

    async def send(self, request: ec.Request) -> ec.Response:
        await asyncio.sleep(0)
        return RESPONSE

    async def aclose(self) -> None:
        pass


class UnboundedTransport(YieldingTransport):
    """The same, but leaving the attempt's time to the client, as a transport you write may."""

    bounds_attempts = False


def _identity(body: bytes, /, **_: Any) -> bytes:
    return body


async def _run_level(level: str, calls: int) -> None:
    transport = UnboundedTransport() if level == "timer" else YieldingTransport()
    client = ec.Client(SHOP_ID, SECRET_KEY, transport=transport)
    body = encode_new_customer(ec.NewCustomer(**PAYLOAD))
    requester = client._requester
    request = ec.Request(
        method="POST",
        url=client.base_url + "/customers",
        headers=requester._json_headers,
        body=body,
        timeout=requester.timeout,  # as the client sends it: the `timer` level runs its timer
        retry=requester.retry,
        operation="customers.create",
        route="/customers",
    )
    last_link = TransportLink(client._transport)
    customer = ec.NewCustomer(**PAYLOAD)
    steps: dict[str, Callable[[], Any]] = {
        "transport": lambda: client._transport.send(request),
        "attempt": lambda: last_link(request),
        "timer": lambda: last_link(request),
        "chain": lambda: requester.handler(request),
        "send": lambda: requester.call("customers.create", "POST", "/customers", body, _identity),
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


async def _run_loopback(name: str, calls: int, url: str) -> None:
    async with creates.CLIENTS[name](url) as create:
        await creates.drive(create, LOOPBACK_CONCURRENCY, LOOPBACK_CONCURRENCY)  # connections
        await creates.drive(create, calls, LOOPBACK_CONCURRENCY)


def _instructions(what: str, calls: int, *more: str) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--child", what, str(calls), *more]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    collected = [line for line in done.stderr.splitlines() if "Collected" in line]
    return int(collected[0].split()[-1])


def per_call(what: str, *more: str) -> float:
    return (_instructions(what, MANY, *more) - _instructions(what, FEW, *more)) / (MANY - FEW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "layers.json")
    args = parser.parse_args()
    if args.child:
        what, calls = args.child[0], int(args.child[1])
        if what in LOOPBACK_CLIENTS:
            asyncio.run(_run_loopback(what, calls, args.child[2]))
        elif what in (*CHAIN_LEVELS, "timer"):
            asyncio.run(_run_level(what, calls))
        else:
            _run_json(what, calls)
        return
    if shutil.which("valgrind") is None:
        sys.exit("layers.py needs valgrind (apt-get install valgrind)")
    results: dict[str, Any] = {"levels": {}, "timer": {}, "json": {}, "loopback_c64": {}}
    previous = None
    print("instructions per call (valgrind callgrind)")
    for level in CHAIN_LEVELS:
        count = per_call(level)
        added = "" if previous is None else f"  (+{count - previous:,.0f})"
        print(f"  {level:<22} {count:>9,.0f}{added}")
        results["levels"][level] = {"instructions": count}
        previous = count
    timer = per_call("timer") - results["levels"]["attempt"]["instructions"]
    print(f"  {'timer (own transports)':<22} {timer:>+9,.0f}  (asyncio.timeout per attempt)")
    results["timer"] = {"instructions_added": timer}
    for op in JSON_OPS:
        count = per_call(op)
        print(f"  {op:<22} {count:>9,.0f}")
        results["json"][op] = {"instructions": count}
    print(f"per create over loopback, concurrency {LOOPBACK_CONCURRENCY}")
    with fake_server() as server:
        for name in LOOPBACK_CLIENTS:
            count = per_call(name, server.url)
            print(f"  {name:<22} {count:>9,.0f}")
            results["loopback_c64"][name] = {"instructions": count}
    ours, raw = (results["loopback_c64"][name]["instructions"] for name in LOOPBACK_CLIENTS)
    print(f"  {'ours / raw aiohttp':<22} {ours / raw:>9.3f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
