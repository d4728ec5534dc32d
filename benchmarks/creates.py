"""Creates per second and client CPU per create: our Client, raw aiohttp, and bepaid.

Every client sends the same customer to the same loopback fake server and
decodes the answer its own way. Each measurement gets a fresh event loop and a
fresh client, warms its connections up, then times `creates` calls run with
at most `concurrency` in flight (a semaphore, one task per call). CPU is
`time.process_time()` of this process only: the server runs in another one.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import aiohttp
from _common import PAYLOAD, SECRET_KEY, SHOP_ID, FakeServer, paired_ratio, summary

import ecomcharge_async as ec

Create = Callable[[], Awaitable[Any]]
ClientFactory = Callable[[str], AbstractAsyncContextManager[Create]]


@asynccontextmanager
async def sdk(url: str) -> AsyncIterator[Create]:
    """Our Client on its default AiohttpTransport, default retry policy and timeout."""
    async with ec.Client(SHOP_ID, SECRET_KEY, base_url=url) as client:
        # The call itself, as a user awaits it: a wrapping `async def` here would add
        # a coroutine of the benchmark's own to every call (raw aiohttp's `create`
        # below is the hand-written client, so it has one).
        yield partial(client.customers.create, ec.NewCustomer(**PAYLOAD))


@asynccontextmanager
async def raw_aiohttp(url: str) -> AsyncIterator[Create]:
    """What a careful hand-written caller does: one session, json.dumps, json.loads."""
    headers = {
        "Authorization": aiohttp.encode_basic_auth(SHOP_ID, SECRET_KEY),
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    async with aiohttp.ClientSession() as session:

        async def create() -> Any:
            body = json.dumps(PAYLOAD).encode()
            async with session.post(url + "/customers", data=body, headers=headers) as resp:
                data = await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"raw aiohttp create got HTTP {resp.status}")
                return json.loads(data)

        yield create


@asynccontextmanager
async def bepaid(url: str) -> AsyncIterator[Create]:
    """bepaid 0.8's AsyncBepaidClient (httpx + pydantic) as shipped, pointed at the fake."""
    from bepaid import AsyncBepaidClient
    from bepaid.models import CustomerRecord

    async with AsyncBepaidClient(SHOP_ID, SECRET_KEY, base_api_url=url) as client:
        customer = CustomerRecord(**PAYLOAD)

        async def create() -> Any:
            return await client.create_customer(customer)

        yield create


def bepaid_missing() -> str | None:
    """Why bepaid cannot be measured here, or None when it can."""
    try:
        import bepaid  # noqa: F401
    except ImportError:
        return "bepaid is not installed (nox -s bench installs it)"
    return None


CLIENTS: dict[str, ClientFactory] = {"ecomcharge_async": sdk, "raw_aiohttp": raw_aiohttp}


async def drive(create: Create, count: int, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with limit:
            await create()

    await asyncio.gather(*(one() for _ in range(count)))


async def _measure(
    factory: ClientFactory, server: FakeServer, count: int, concurrency: int
) -> dict[str, float]:
    async with factory(server.url) as create:
        await drive(create, max(concurrency, 32), concurrency)  # open connections, warm caches
        gc.collect()
        server_cpu = server.cpu_seconds()
        cpu, wall = time.process_time(), time.perf_counter()
        await drive(create, count, concurrency)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server_after = server.cpu_seconds()
    figures = {"creates_per_s": count / wall, "cpu_us_per_create": cpu / count * 1e6}
    if server_cpu is not None and server_after is not None:
        figures["server_cpu_us_per_create"] = (server_after - server_cpu) / count * 1e6
    return figures


def run(
    server: FakeServer, *, rounds: int, creates: int, concurrencies: list[int]
) -> dict[str, Any]:
    """All clients at every concurrency, `rounds` times, in a rotating order."""
    clients = dict(CLIENTS)
    skipped = bepaid_missing()
    if skipped is None:
        clients["bepaid"] = bepaid
    names = list(clients)
    samples: dict[int, dict[str, list[dict[str, float]]]] = {
        c: {name: [] for name in names} for c in concurrencies
    }
    for round_no in range(rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for concurrency in concurrencies:
            for name in order:
                figures = asyncio.run(_measure(clients[name], server, creates, concurrency))
                samples[concurrency][name].append(figures)
    return {
        "creates": creates,
        "by_concurrency": {f"c{c}": _section(samples[c]) for c in concurrencies},
        "skipped": {"bepaid": skipped} if skipped else {},
    }


def _section(samples: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Per-client summaries, and ours / theirs ratios paired round by round."""

    def series(name: str, metric: str) -> list[float]:
        return [s[metric] for s in samples[name]]

    clients = {
        name: {metric: summary(series(name, metric)) for metric in rounds[0]}
        for name, rounds in samples.items()
    }
    ours = "ecomcharge_async"
    ratios = {}
    for peer in ("raw_aiohttp", "bepaid"):
        if peer in samples:
            short = peer.split("_")[0]
            ratios[f"cpu_vs_{short}"] = paired_ratio(
                series(ours, "cpu_us_per_create"), series(peer, "cpu_us_per_create")
            )
            ratios[f"rate_vs_{short}"] = paired_ratio(
                series(ours, "creates_per_s"), series(peer, "creates_per_s")
            )
    return {"clients": clients, "ratios": ratios}
