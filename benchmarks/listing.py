"""`customers.iter()` against `customers.list()` over HTTP: time per customer, and iter()'s memory.

Both list the same shop from the loopback fake (in its own process), through
`Client` on its default transport. Time: each round runs `list()` and then
`iter()` (in turns) over the whole shop; the figure is wall microseconds per
customer. Memory: the peak of Python allocations (`tracemalloc`) while
`iter()` runs over a shop ten times smaller and over the whole one. Flat
memory means the two peaks are about equal; `list()`'s peak over the whole
shop is shown for scale. (`list_memory.py` measures peak RSS at 10^5-10^6
customers, in fresh processes; this is the quick in-process check.)
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from typing import Any

from _common import SECRET_KEY, SHOP_ID, FakeServer, paired_ratio, summary

import ecomcharge_async as ec


async def _list(client: ec.Client) -> int:
    return len(await client.customers.list())


async def _iter(client: ec.Client) -> int:
    count = 0
    async for _ in client.customers.iter():
        count += 1
    return count


MODES = {"list": _list, "iter": _iter}


async def _timed(server: FakeServer, order: list[str]) -> tuple[int, dict[str, float]]:
    times = {}
    count = 0
    async with ec.Client(SHOP_ID, SECRET_KEY, base_url=server.url, timeout=600) as client:
        await _list(client)  # open the connection, warm the caches
        for mode in order:
            gc.collect()
            started = time.perf_counter()
            count = await MODES[mode](client)
            times[mode] = (time.perf_counter() - started) / max(count, 1) * 1e6
    return count, times


async def _peak_kib(server: FakeServer, mode: str) -> float:
    """Peak traced memory of one listing above what was allocated before it, in KiB."""
    async with ec.Client(SHOP_ID, SECRET_KEY, base_url=server.url, timeout=600) as client:
        await MODES[mode](client)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await MODES[mode](client)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return (peak - before) / 1024


def run(big: FakeServer, small: FakeServer, *, rounds: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"list": [], "iter": []}
    count = 0
    for round_no in range(rounds):
        order = ["list", "iter"] if round_no % 2 == 0 else ["iter", "list"]
        count, times = asyncio.run(_timed(big, order))
        for mode, us in times.items():
            samples[mode].append(us)
    memory = {
        "iter_small_kib": asyncio.run(_peak_kib(small, "iter")),
        "iter_big_kib": asyncio.run(_peak_kib(big, "iter")),
        "list_big_kib": asyncio.run(_peak_kib(big, "list")),
    }
    return {
        "customers": count,
        "small_customers": asyncio.run(_count(small)),
        "us_per_customer": {mode: summary(values) for mode, values in samples.items()},
        "peak_traced_memory": memory,
        "ratios": {
            "iter_vs_list": paired_ratio(samples["iter"], samples["list"]),
            "iter_memory_big_vs_small": summary(
                [memory["iter_big_kib"] / memory["iter_small_kib"]]
            ),
        },
    }


async def _count(server: FakeServer) -> int:
    async with ec.Client(SHOP_ID, SECRET_KEY, base_url=server.url) as client:
        return await _list(client)
