"""What a `SyncClient` call adds to the same call awaited on a `Client`.

Both fetch one customer (`customers.get`) from the loopback fake running in its
own process, over the default aiohttp transport. At concurrency 1 the async
client awaits the calls one after another in `asyncio.run`, the sync client
makes them from the main thread; at 32, 32 tasks share one `Client` against 32
threads sharing one `SyncClient`. Rounds alternate async and sync, so a drift
in the machine's load touches both. The figure is wall time per call (at 32:
the whole run divided by the calls), the process's CPU time per call (the
SDK's loop thread included) and its voluntary context switches per call (a
thread going to sleep: for the loop, the server or a call); "added" is sync
minus async, per round, then the
median over the rounds. At concurrency 1 `inline` makes the same calls with the
calling thread running an event loop of its own, one `run_until_complete` per
call: the floor of any design where the caller runs the SDK's loop itself
instead of handing the call to the loop thread. `hop` is the bare trip to the
loop and back (a coroutine that returns at once) from the main thread through
the SDK's loop (which the caller runs itself when it finds it parked, as here),
and through anyio's blocking portal when anyio is installed: the alternative
the design weighed.

Run: `python benchmarks/sync_calls.py` (`--quick` for a tiny run, `--output PATH`
to keep the JSON, `--concurrency 32` for the 32-thread rounds alone: the quick
half of an A/B comparison, run alternately against each checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

from _common import SECRET_KEY, SHOP_ID, fake_server, summary

import ecomcharge_async as ec

# (wall µs per call, CPU µs per call, the process's voluntary context switches per call)
Timing = tuple[float, float, float]


def _start() -> Timing:
    return (
        time.perf_counter(),
        time.process_time(),
        resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw,
    )


def _per_call(start: Timing, calls: int) -> Timing:
    end = _start()
    return (
        (end[0] - start[0]) / calls * 1e6,
        (end[1] - start[1]) / calls * 1e6,
        (end[2] - start[2]) / calls,
    )


def _timed(calls: int, work: Any) -> Timing:
    start = _start()
    work()
    return _per_call(start, calls)


def async_round(url: str, customer_id: str, calls: int, concurrency: int) -> Timing:
    async def main() -> Timing:
        async with ec.Client(SHOP_ID, SECRET_KEY, base_url=url) as client:

            async def worker(count: int) -> None:
                for _ in range(count):
                    await client.customers.get(customer_id)

            await asyncio.gather(*(worker(10) for _ in range(concurrency)))  # warm the pool
            start = _start()
            await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
            return _per_call(start, calls)

    return asyncio.run(main())


def sync_round(url: str, customer_id: str, calls: int, concurrency: int) -> Timing:
    with ec.SyncClient(SHOP_ID, SECRET_KEY, base_url=url) as client:

        def worker(count: int) -> None:
            for _ in range(count):
                client.customers.get(customer_id)

        def in_threads(count: int) -> None:
            if concurrency == 1:
                worker(count)
                return
            threads = [threading.Thread(target=worker, args=(count,)) for _ in range(concurrency)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        in_threads(10)  # warm the pool
        return _timed(calls, lambda: in_threads(calls // concurrency))


def inline_round(url: str, customer_id: str, calls: int) -> Timing:
    loop = asyncio.new_event_loop()
    client = ec.Client(SHOP_ID, SECRET_KEY, base_url=url)
    try:

        def calls_in_this_thread(count: int) -> None:
            for _ in range(count):
                loop.run_until_complete(client.customers.get(customer_id))

        calls_in_this_thread(10)  # warm the pool
        return _timed(calls, lambda: calls_in_this_thread(calls))
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


async def _nothing() -> None:
    return None


def hop_round(calls: int) -> dict[str, Timing]:
    """The bare hop to the loop and back: ours, and anyio's portal if installed."""
    from ecomcharge_async._core.process_loop import loop_thread

    ours = loop_thread()

    def through_ours() -> None:
        for _ in range(calls):
            ours.run(_nothing())

    timings = {"loop_thread": _timed(calls, through_ours)}
    try:
        from anyio.from_thread import start_blocking_portal
    except ImportError:
        return timings
    with start_blocking_portal("asyncio") as portal:

        def through_portal() -> None:
            for _ in range(calls):
                portal.call(_nothing)

        portal.call(_nothing)
        timings["anyio_portal"] = _timed(calls, through_portal)
    return timings


def run(*, rounds: int, calls: int, concurrencies: tuple[int, ...] = (1, 32)) -> dict[str, Any]:
    results: dict[str, Any] = {
        "calls": calls,
        "rounds": rounds,
        "load_average_at_start": os.getloadavg(),
    }
    with fake_server() as server, ec.SyncClient(SHOP_ID, SECRET_KEY, base_url=server.url) as setup:
        customer = setup.customers.create(ec.NewCustomer(email="a@example.com", ip="127.0.0.1"))
        for concurrency in concurrencies:
            timings: dict[str, list[Timing]] = {"async": [], "sync": []}
            if concurrency == 1:
                timings["inline"] = []
            for _ in range(rounds):
                timings["async"].append(async_round(server.url, customer.id, calls, concurrency))
                timings["sync"].append(sync_round(server.url, customer.id, calls, concurrency))
                if concurrency == 1:
                    timings["inline"].append(inline_round(server.url, customer.id, calls))
            figures: dict[str, Any] = {
                "wall_us_per_call": {
                    kind: summary([t[0] for t in ts]) for kind, ts in timings.items()
                },
                "cpu_us_per_call": {
                    kind: summary([t[1] for t in ts]) for kind, ts in timings.items()
                },
                "voluntary_switches_per_call": {
                    kind: summary([t[2] for t in ts]) for kind, ts in timings.items()
                },
            }
            for kind in timings.keys() - {"async"}:
                pairs = list(zip(timings["async"], timings[kind], strict=True))
                prefix = "added" if kind == "sync" else f"{kind}_added"
                figures[f"{prefix}_wall_us"] = summary([s[0] - a[0] for a, s in pairs])
                figures[f"{prefix}_cpu_us"] = summary([s[1] - a[1] for a, s in pairs])
            results[f"c{concurrency}"] = figures
    if 1 not in concurrencies:
        results["load_average_at_end"] = os.getloadavg()
        return results
    hops = [hop_round(calls) for _ in range(rounds)]
    results["hop"] = {
        name: {
            "wall_us": summary([h[name][0] for h in hops]),
            "cpu_us": summary([h[name][1] for h in hops]),
        }
        for name in hops[0]
    }
    results["load_average_at_end"] = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3200, help="calls per round (of 32)")
    parser.add_argument("--quick", action="store_true", help="one round of 64 calls")
    parser.add_argument(
        "--concurrency",
        type=int,
        choices=(1, 32),
        action="append",
        help="run only this concurrency (repeatable; default: 1 and 32, then the hop)",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    rounds, calls = (1, 64) if args.quick else (args.rounds, args.calls)
    concurrencies = tuple(sorted(set(args.concurrency or (1, 32))))
    results = run(rounds=rounds, calls=calls, concurrencies=concurrencies)
    print(
        f"load average at start {results['load_average_at_start'][0]:.2f}, at end "
        f"{results['load_average_at_end'][0]:.2f}"
    )
    for key in (f"c{c}" for c in concurrencies):
        figures = results[key]
        wall = figures["wall_us_per_call"]
        print(
            f"{key}: async {wall['async']['median']:.1f} µs/call, "
            f"sync {wall['sync']['median']:.1f} µs/call, "
            f"added {_spread(figures['added_wall_us'])} µs wall, "
            f"{_spread(figures['added_cpu_us'])} µs CPU (medians of {rounds}, min-max); "
            f"context switches per call: async "
            f"{figures['voluntary_switches_per_call']['async']['median']:.1f}, "
            f"sync {figures['voluntary_switches_per_call']['sync']['median']:.1f}"
        )
    if "c1" not in results:
        _save(args.output, results)
        return
    inline = results["c1"]
    print(
        f"c1 inline (the caller runs a loop itself): added "
        f"{inline['inline_added_wall_us']['median']:.1f} µs wall, "
        f"{inline['inline_added_cpu_us']['median']:.1f} µs CPU"
    )
    for name, figures in results["hop"].items():
        print(
            f"hop via {name}: {figures['wall_us']['median']:.1f} µs wall, "
            f"{figures['cpu_us']['median']:.1f} µs CPU"
        )
    _save(args.output, results)


def _spread(figure: dict[str, Any]) -> str:
    return f"{figure['median']:.1f} ({figure['min']:.0f} to {figure['max']:.0f})"


def _save(output: Path | None, results: dict[str, Any]) -> None:
    if output:
        output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
