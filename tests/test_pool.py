"""Waiting for a free connection is not an attempt: what never left is never "maybe sent".

A slow loopback server holds the requests it receives until the test lets
them go, so the pool stays full exactly as long as the test says.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from conftest import HTTP_KINDS, SECRET, SHOP_ID, http_transport

import ecomcharge_async as ec
from ecomcharge_async.testing._server import run_app


class SlowShop:
    """POST /customers: records the email, then answers only once `release` is set."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.arrival = asyncio.Event()
        self.release = asyncio.Event()

    async def create(self, request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        self.received.append(data["email"])
        self.arrival.set()
        await self.release.wait()
        customer = {"id": f"cst_{len(self.received):016x}", **data}
        return web.json_response(customer, status=201)


@pytest.fixture
async def shop() -> AsyncIterator[tuple[SlowShop, str]]:
    slow = SlowShop()
    app = web.Application()
    app.router.add_post("/customers", slow.create)
    async with run_app(app, shutdown_timeout=0.1) as url:
        yield slow, url
        slow.release.set()


def person(n: int) -> ec.NewCustomer:
    return ec.NewCustomer(email=f"user{n}@example.com", ip="127.0.0.1")


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_burst_larger_than_the_pool_reports_no_unsent_request_as_maybe_sent(
    kind: str, shop: tuple[SlowShop, str]
) -> None:
    slow, url = shop
    transport = http_transport(kind, limit=2, pool_timeout=0.1)
    async with ec.Client(
        SHOP_ID, SECRET, base_url=url, transport=transport, timeout=1.0, retry=None
    ) as client:
        outcomes = await asyncio.gather(
            *(client.customers.create(person(n)) for n in range(10)), return_exceptions=True
        )
    maybe_sent = [person(n).email for n, o in enumerate(outcomes) if type(o) is ec.APITimeoutError]
    not_sent = [person(n).email for n, o in enumerate(outcomes) if type(o) is ec.PoolTimeoutError]
    assert len(maybe_sent) + len(not_sent) == 10, outcomes
    # The two that had a connection reached the server and timed out there; the
    # eight queued behind them gave up in the pool, and say they were not sent.
    assert (len(maybe_sent), len(not_sent)) == (2, 8)
    assert set(maybe_sent) == set(slow.received)
    assert not set(not_sent) & set(slow.received)
    error = next(o for o in outcomes if isinstance(o, ec.PoolTimeoutError))
    assert isinstance(error, ec.ConnectError)
    assert "the request was not sent" in str(error)
    assert "limit=" in str(error)


async def queued_for_the_pool(transport: ec.Transport) -> None:
    """Runs the loop until a request waits for one of `transport`'s connections.

    Bounded in loop steps, not time: a request on its way to the pool gets
    there in a few.
    """
    waiters = transport._slots._waiters  # type: ignore[attr-defined]
    for _ in range(100):
        if waiters:
            return
        await asyncio.sleep(0)
    raise AssertionError("no request queued for the pool")


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_the_attempt_timeout_starts_once_the_request_has_a_connection(
    kind: str, shop: tuple[SlowShop, str]
) -> None:
    slow, url = shop
    timeout = 1.0  # a loopback create on a busy machine fits in it
    transport = http_transport(kind, limit=1, pool_timeout=None)
    async with ec.Client(
        SHOP_ID, SECRET, base_url=url, transport=transport, timeout=timeout, retry=None
    ) as client:
        first = asyncio.create_task(client.with_options(timeout=30).customers.create(person(1)))
        await slow.arrival.wait()
        second = asyncio.create_task(client.customers.create(person(2)))
        await queued_for_the_pool(transport)
        # The pool's only connection stays taken for two of the second's timeouts
        # (on the loop's clock, from when it queued): a timer of its own started
        # before it had the connection would fire first and fail it...
        asyncio.get_running_loop().call_later(2 * timeout, slow.release.set)
        assert (await first).email == person(1).email
        # ...but it gets its whole timeout once it has the connection.
        assert (await second).email == person(2).email
    assert slow.received == [person(1).email, person(2).email]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_connection_freed_in_time_serves_the_next_request(
    kind: str, shop: tuple[SlowShop, str]
) -> None:
    slow, url = shop
    slow.release.set()
    transport = http_transport(kind, limit=1)
    async with ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport) as client:
        created = await asyncio.gather(*(client.customers.create(person(n)) for n in range(5)))
    assert [c.email for c in created] == [person(n).email for n in range(5)]
    assert len(slow.received) == 5


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_the_pool_timeout_must_be_positive_or_none(kind: str) -> None:
    with pytest.raises(
        ValueError, match="pool_timeout must be a finite number of seconds > 0, or None"
    ):
        http_transport(kind, pool_timeout=0)
