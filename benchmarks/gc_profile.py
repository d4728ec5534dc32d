"""Garbage collection per create: why a create costs more CPU at concurrency 64 than at 1.

    python benchmarks/gc_profile.py [--creates 3000] [--concurrency 1 64]

For our Client and raw aiohttp (the same clients as `creates.py`, against the
same loopback fake in its own process), at each concurrency: the collections
per 1,000 creates by generation, the CPU time spent collecting (timed by
`gc.callbacks`), and what the collector had to free, by type, per create.
Objects in reference cycles are the ones only the collector frees; each one
brings the next young collection closer, and each young collection walks
every young object still alive, which at concurrency 64 means those of 64
calls in flight. Last, what each call holds while it waits for its answer,
by type, counted exactly (see `_held`). Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections import Counter
from typing import Any

import creates
from _common import PAYLOAD, FakeServer, fake_server
from aiohttp import web

HELD_CALLS = 64


class _Collections:
    """Counts collections by generation and the CPU time spent in them."""

    def __init__(self) -> None:
        self.by_generation = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.by_generation[info["generation"]] += 1
            self.seconds += time.process_time() - self._started


def _kind(obj: object) -> str:
    """The type's name; for coroutines and bound methods, also what they run."""
    kind = type(obj).__qualname__
    if kind == "coroutine":
        return f"coroutine {obj.cr_code.co_qualname}"  # type: ignore[attr-defined]
    if kind == "method":
        return f"method {obj.__func__.__qualname__}"  # type: ignore[attr-defined]
    if kind == "cell":
        try:
            return f"cell of {type(obj.cell_contents).__qualname__}"  # type: ignore[attr-defined]
        except ValueError:
            return "cell (empty)"
    return kind


async def _held(factory: creates.ClientFactory, calls: int) -> Counter[str]:
    """Tracked objects each call holds while it waits for its answer, by type.

    An in-process aiohttp.web server holds every request until `calls` of them
    have arrived; then each client call is suspended at the same point, waiting
    for the response, and a census of `gc.get_objects()` against one taken
    before the calls started says what each holds. The server's own objects
    are the same for every client, so differences between clients are theirs.
    """
    arrived = 0
    all_in, release = asyncio.Event(), asyncio.Event()
    body = json.dumps({"id": "cst_0123456789abcdef", **PAYLOAD}).encode()

    async def handler(request: web.Request) -> web.Response:
        nonlocal arrived
        await request.read()
        arrived += 1
        if arrived == calls:
            all_in.set()
        await release.wait()
        return web.Response(status=201, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/customers", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with factory(f"http://127.0.0.1:{port}") as create:
            release.set()
            await creates.drive(create, calls, calls)  # open the connections, warm up
            release.clear()
            arrived = 0
            gc.collect()
            before = Counter(_kind(o) for o in gc.get_objects())
            tasks = [asyncio.create_task(create()) for _ in range(calls)]
            await all_in.wait()
            for _ in range(5):  # let every client task reach its wait for the answer
                await asyncio.sleep(0)
            during = Counter(_kind(o) for o in gc.get_objects())
            release.set()
            await asyncio.gather(*tasks)
    finally:
        await runner.cleanup()
    return Counter({k: (during[k] - before[k]) / calls for k in during.keys() | before.keys()})


async def _measure(
    factory: creates.ClientFactory, server: FakeServer, count: int, concurrency: int
) -> dict[str, Any]:
    async with factory(server.url) as create:
        await creates.drive(create, max(concurrency, 32), concurrency)
        gc.collect()
        counter = _Collections()
        gc.callbacks.append(counter)
        cpu = time.process_time()
        try:
            await creates.drive(create, count, concurrency)
        finally:
            gc.callbacks.remove(counter)
        cpu = time.process_time() - cpu
        # Second pass: keep what the collector frees, to see what it is.
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await creates.drive(create, count, concurrency)
            gc.collect()
            kinds = Counter(type(o).__qualname__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    per_1000 = 1000 / count
    return {
        "cpu_us_per_create": cpu / count * 1e6,
        "gc_us_per_create": counter.seconds / count * 1e6,
        "collections_per_1000": [n * per_1000 for n in counter.by_generation],
        "cyclic_objects_per_create": sum(kinds.values()) / count,
        "cyclic_kinds_per_create": {k: n / count for k, n in kinds.most_common(12)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    args = parser.parse_args()
    clients = {"ecomcharge_async": creates.sdk, "raw_aiohttp": creates.raw_aiohttp}
    with fake_server() as server:
        for concurrency in args.concurrency:
            for name, factory in clients.items():
                r = asyncio.run(_measure(factory, server, args.creates, concurrency))
                gens = "/".join(f"{n:.1f}" for n in r["collections_per_1000"])
                print(
                    f"c={concurrency:<3} {name:<17} CPU {r['cpu_us_per_create']:6.1f} us/create, "
                    f"GC {r['gc_us_per_create']:5.1f} us/create, "
                    f"collections per 1000 creates (gen0/1/2) {gens}, "
                    f"cyclic garbage {r['cyclic_objects_per_create']:.1f} objects/create"
                )
                for kind, n in r["cyclic_kinds_per_create"].items():
                    print(f"      {n:6.2f}  {kind}")
    for factory in clients.values():  # first uses fill caches (ABC, weakrefs) once per process
        asyncio.run(_held(factory, 8))
    held = {name: asyncio.run(_held(factory, HELD_CALLS)) for name, factory in clients.items()}
    print(f"\ntracked objects held by each call waiting for its answer ({HELD_CALLS} in flight)")
    for name, kinds in held.items():
        print(f"  {name:<17} {sum(kinds.values()):6.1f}")
    ours, raw = held["ecomcharge_async"], held["raw_aiohttp"]
    extra = {k: ours.get(k, 0) - raw.get(k, 0) for k in ours.keys() | raw.keys()}
    print("  ours minus raw aiohttp, by type:")
    for kind, n in sorted(extra.items(), key=lambda kv: (-abs(kv[1]), kv[0])):
        if abs(n) >= 0.5:
            print(f"    {n:+5.1f}  {kind}")


if __name__ == "__main__":
    main()
