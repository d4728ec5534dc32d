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
from typing import Any

import aiohttp
from _common import PAYLOAD, SECRET_KEY, SHOP_ID, ratio, summary

import ecomcharge_async as ec

Create = Callable[[], Awaitable[Any]]
ClientFactory = Callable[[str], AbstractAsyncContextManager[Create]]


@asynccontextmanager
async def sdk(url: str) -> AsyncIterator[Create]:
    """Our Client on its default AiohttpTransport, default retry policy and timeout."""
    async with ec.Client(SHOP_ID, SECRET_KEY, base_url=url) as client:
        customer = ec.NewCustomer(**PAYLOAD)

        async def create() -> ec.Customer:
            return await client.customers.create(customer)

        yield create


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


async def _drive(create: Create, count: int, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with limit:
            await create()

    await asyncio.gather(*(one() for _ in range(count)))


async def _measure(
    factory: ClientFactory, url: str, count: int, concurrency: int
) -> dict[str, float]:
    async with factory(url) as create:
        await _drive(create, max(concurrency, 32), concurrency)  # open connections, warm caches
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        await _drive(create, count, concurrency)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"creates_per_s": count / wall, "cpu_us_per_create": cpu / count * 1e6}


def run(url: str, *, rounds: int, creates: int, concurrencies: list[int]) -> dict[str, Any]:
    """All clients at every concurrency, `rounds` times, in a rotating order."""
    clients = dict(CLIENTS)
    skipped = bepaid_missing()
    if skipped is None:
        clients["bepaid"] = bepaid
    samples: dict[str, dict[int, list[dict[str, float]]]] = {
        name: {c: [] for c in concurrencies} for name in clients
    }
    names = list(clients)
    for round_no in range(rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for concurrency in concurrencies:
            for name in order:
                figures = asyncio.run(_measure(clients[name], url, creates, concurrency))
                samples[name][concurrency].append(figures)
    by_concurrency: dict[str, Any] = {}
    for concurrency in concurrencies:
        per_client = {
            name: {
                metric: summary([s[metric] for s in samples[name][concurrency]])
                for metric in ("creates_per_s", "cpu_us_per_create")
            }
            for name in names
        }
        by_concurrency[f"c{concurrency}"] = {"clients": per_client, "ratios": _ratios(per_client)}
    return {
        "creates": creates,
        "by_concurrency": by_concurrency,
        "skipped": {"bepaid": skipped} if skipped else {},
    }


def _ratios(per_client: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    ours, raw = per_client["ecomcharge_async"], per_client["raw_aiohttp"]
    ratios = {
        "cpu_vs_raw": ratio(
            ours["cpu_us_per_create"]["median"], raw["cpu_us_per_create"]["median"]
        ),
        "rate_vs_raw": ratio(ours["creates_per_s"]["median"], raw["creates_per_s"]["median"]),
    }
    if "bepaid" in per_client:
        peer = per_client["bepaid"]
        ratios["rate_vs_bepaid"] = ratio(
            ours["creates_per_s"]["median"], peer["creates_per_s"]["median"]
        )
        ratios["cpu_vs_bepaid"] = ratio(
            ours["cpu_us_per_create"]["median"], peer["cpu_us_per_create"]["median"]
        )
    return ratios
