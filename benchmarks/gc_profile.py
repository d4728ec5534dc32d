"""Garbage collection per create: why a create costs more CPU at concurrency 64 than at 1.

    python benchmarks/gc_profile.py [--creates 3000] [--concurrency 1 64]

For our Client and raw aiohttp (the same clients as `creates.py`, against the
same loopback fake in its own process), at each concurrency: the collections
per 1,000 creates by generation, the CPU time spent collecting (timed by
`gc.callbacks`), and what the collector had to free, by type, per create.
Objects in reference cycles are the ones only the collector frees; each one
brings the next young collection closer, and each young collection walks
every young object still alive, which at concurrency 64 means those of 64
calls in flight. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections import Counter
from typing import Any

import creates
from _common import FakeServer, fake_server


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


async def _in_flight(
    create: creates.Create, count: int, concurrency: int, snapshots: int = 4
) -> Counter[str]:
    """Tracked objects alive mid-run, by type, averaged over a few snapshots.

    Taken when a call completes, so `concurrency - 1` others are in flight at
    various stages; the driver's own objects are the same for every client.
    """
    seen: Counter[str] = Counter()
    done = 0
    every = count // (snapshots + 1)

    async def counted() -> Any:
        nonlocal done
        result = await create()
        done += 1
        if done % every == 0 and done // every <= snapshots:
            seen.update(_kind(o) for o in gc.get_objects())
        return result

    await creates._drive(counted, count, concurrency)
    return Counter({k: n / snapshots for k, n in seen.items()})


async def _measure(
    factory: creates.ClientFactory, server: FakeServer, count: int, concurrency: int
) -> dict[str, Any]:
    async with factory(server.url) as create:
        await creates._drive(create, max(concurrency, 32), concurrency)
        gc.collect()
        counter = _Collections()
        gc.callbacks.append(counter)
        cpu = time.process_time()
        try:
            await creates._drive(create, count, concurrency)
        finally:
            gc.callbacks.remove(counter)
        cpu = time.process_time() - cpu
        # Second pass: keep what the collector frees, to see what it is.
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await creates._drive(create, count, concurrency)
            gc.collect()
            kinds = Counter(type(o).__qualname__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        alive = await _in_flight(create, count, concurrency)
    per_1000 = 1000 / count
    return {
        "cpu_us_per_create": cpu / count * 1e6,
        "gc_us_per_create": counter.seconds / count * 1e6,
        "collections_per_1000": [n * per_1000 for n in counter.by_generation],
        "cyclic_objects_per_create": sum(kinds.values()) / count,
        "cyclic_kinds_per_create": {k: n / count for k, n in kinds.most_common(12)},
        "alive_mid_run": alive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    args = parser.parse_args()
    clients = {"ecomcharge_async": creates.sdk, "raw_aiohttp": creates.raw_aiohttp}
    with fake_server() as server:
        for concurrency in args.concurrency:
            alive = {}
            for name, factory in clients.items():
                r = asyncio.run(_measure(factory, server, args.creates, concurrency))
                alive[name] = r["alive_mid_run"]
                gens = "/".join(f"{n:.1f}" for n in r["collections_per_1000"])
                print(
                    f"c={concurrency:<3} {name:<17} CPU {r['cpu_us_per_create']:6.1f} us/create, "
                    f"GC {r['gc_us_per_create']:5.1f} us/create, "
                    f"collections per 1000 creates (gen0/1/2) {gens}, "
                    f"cyclic garbage {r['cyclic_objects_per_create']:.1f} objects/create"
                )
                for kind, n in r["cyclic_kinds_per_create"].items():
                    print(f"      {n:6.2f}  {kind}")
            ours, raw = alive["ecomcharge_async"], alive["raw_aiohttp"]
            extra = Counter({k: ours[k] - raw[k] for k in ours.keys() | raw.keys()})
            total = sum(extra.values())
            print(
                f"c={concurrency:<3} tracked objects alive mid-run, ours minus raw aiohttp: "
                f"{total:+.0f} ({total / concurrency:+.1f} per call in flight); largest:"
            )
            for kind, n in sorted(extra.items(), key=lambda kv: -abs(kv[1]))[:24]:
                print(f"      {n:+7.1f}  {kind}")


if __name__ == "__main__":
    main()
