"""Cancellation and close under load: promise 3 of docs/guides/security.md.

A real aiohttp.web server on 127.0.0.1 that answers slowly (half of the
requests in mid-body), 500 concurrent calls, a pool of 10 connections, through
each HTTP transport. (A single call closed in flight, on every transport the
fake included, is in the conformance suite, test_transports.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import AsyncIterator, Iterator

import attrs
import pytest
from aiohttp import web
from conftest import HTTP_KINDS, http_transport

import ecomcharge_async as ec
from ecomcharge_async.testing._server import run_app

NEW = ec.NewCustomer(email="a@example.com", ip="127.0.0.1")


@attrs.define
class SlowShop:
    """A loopback server whose GET /customers waits for `gate`; with `half_body`, every
    other request gets its status and part of its body first."""

    url: str = ""
    half_body: bool = True
    arrived: int = 0
    gate: asyncio.Event = attrs.Factory(asyncio.Event)
    changed: asyncio.Condition = attrs.Factory(asyncio.Condition)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        async with self.changed:
            self.arrived += 1
            self.changed.notify_all()
        if self.half_body and self.arrived % 2:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'[{"id": "cst_7aee5afb954c7ef7", ')
            await self.gate.wait()
            return response
        await self.gate.wait()
        return web.json_response([])

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(lambda: self.arrived >= count)


@contextlib.asynccontextmanager
async def slow_shop() -> AsyncIterator[SlowShop]:
    shop = SlowShop()
    app = web.Application()
    app.router.add_route("*", "/customers", shop.handle)
    async with run_app(app, shutdown_timeout=0.1) as url:
        shop.url = url
        try:
            yield shop
        finally:
            shop.gate.set()


@contextlib.contextmanager
def leak_detector() -> Iterator[list[str]]:
    """Collects what a leak looks like: unclosed-resource warnings and loop error reports.

    Yields the list of findings; garbage is collected before leaving, so objects
    dropped without being closed report here, inside the test.
    """
    findings: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: findings.append(str(context.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield findings
            gc.collect()
        findings.extend(str(warning.message) for warning in caught)
    finally:
        loop.set_exception_handler(None)


CONCURRENT = 500


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_cancelling_500_calls_mid_flight_leaks_nothing_and_the_client_keeps_working(
    kind: str,
) -> None:
    with leak_detector() as leaks:
        async with slow_shop() as shop:
            transport = http_transport(kind, limit=10)
            async with ec.Client("361", "s", base_url=shop.url, transport=transport) as client:
                calls = [asyncio.create_task(client.customers.list()) for _ in range(CONCURRENT)]
                await shop.wait_for(10)  # the pool is full: 10 at the server, 490 queued
                for call in calls:
                    call.cancel()
                outcomes = await asyncio.gather(*calls, return_exceptions=True)
                assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
                # All 10 connections are free again: 10 new calls reach the server at once.
                shop.half_body, shop.arrived = False, 0
                calls = [asyncio.create_task(client.customers.list()) for _ in range(10)]
                await shop.wait_for(10)
                shop.gate.set()
                assert await asyncio.gather(*calls) == [[]] * 10
                async with asyncio.timeout(10):
                    answers = await asyncio.gather(*(client.customers.list() for _ in range(50)))
                assert answers == [[]] * 50
    assert leaks == []


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_closing_the_client_ends_calls_in_flight_with_a_clear_error(kind: str) -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    with leak_detector() as leaks:
        async with slow_shop() as shop:
            client = ec.Client(
                "361",
                "s",
                base_url=shop.url,
                transport=http_transport(kind, limit=10),
                retry=ec.RetryPolicy(sleep=record_wait),
            )
            reads = [asyncio.create_task(client.customers.list()) for _ in range(30)]
            creates = [asyncio.create_task(client.customers.create(NEW)) for _ in range(30)]
            await shop.wait_for(10)  # 10 at the server (some mid-body), 50 queued
            await client.aclose()
            outcomes = await asyncio.gather(*reads, *creates, return_exceptions=True)
            with pytest.raises(RuntimeError, match="this Client is closed"):
                await client.customers.list()
    assert leaks == []
    assert waits == []  # not retried: closing is not a network failure
    messages = {f"{type(o).__name__}: {o}" for o in outcomes}
    assert messages == {
        f"RuntimeError: {method} /customers: the transport was closed while the request "
        "was in flight (it may have reached the server)"
        for method in ("GET", "POST")
    }
