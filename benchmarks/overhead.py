"""What the SDK costs by itself: full-stack calls on the in-process fake, no sockets.

Three ways to create the same customer, one call at a time:
`backend` calls `FakeEcomCharge.handle(request)` directly (the fake's own cost);
`transport` awaits `FakeTransport.send(request)` (adds one event-loop yield);
`client` awaits `client.customers.create(...)` through service, chain,
converter and transport. `client - transport` is the SDK's overhead per call.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import PAYLOAD, SECRET_KEY, SHOP_ID, summary

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge


def _request(client: ec.Client) -> ec.Request:
    return ec.Request(
        method="POST",
        url=client.base_url + "/customers",
        headers=client._requester._json_headers,
        body=json.dumps(PAYLOAD).encode(),
    )


async def _per_call_us(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(100):
        await call()
    gc.collect()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


async def _one_round(calls: int) -> dict[str, float]:
    fake = FakeEcomCharge(SHOP_ID, SECRET_KEY, seed=2)
    transport = fake.transport()
    async with ec.Client(SHOP_ID, SECRET_KEY, transport=transport) as client:
        request = _request(client)
        customer = ec.NewCustomer(**PAYLOAD)

        async def backend() -> Any:
            return fake.handle(request)

        async def via_transport() -> Any:
            return await transport.send(request)

        async def via_client() -> Any:
            return await client.customers.create(customer)

        return {
            "backend": await _per_call_us(backend, calls),
            "transport": await _per_call_us(via_transport, calls),
            "client": await _per_call_us(via_client, calls),
        }


def run(*, rounds: int, calls: int) -> dict[str, Any]:
    samples = [asyncio.run(_one_round(calls)) for _ in range(rounds)]
    figures = {name: summary([s[name] for s in samples]) for name in samples[0]}
    overhead = [s["client"] - s["transport"] for s in samples]
    return {"calls": calls, "us_per_call": figures, "sdk_overhead_us": summary(overhead)}
