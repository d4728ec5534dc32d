"""`SyncClient`'s life: closing it (or dropping it) gives its transport back, and leaving
`iter()` early gives the connection back at once."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import pytest
import test_sync
from conftest import SECRET, SHOP_ID
from sync_support import noted_close
from test_sync import KINDS, NEW, _list_request

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge

# The fixtures that serve the fake on loopback and build sync clients, shared.
loopback = test_sync.loopback
make_sync = test_sync.make_sync


@pytest.mark.parametrize("kind", KINDS)
def test_close_closed_and_the_context_manager(
    kind: str, make_sync: Callable[..., ec.SyncClient]
) -> None:
    client = make_sync(kind)
    with client as entered:
        assert entered is client
        derived = client.with_options(timeout=2.5, retry=None, headers={"X-Trace": "1"})
        assert (derived.timeout, derived.retry) == (2.5, None)
        assert derived.customers.list() == []
        derived.close()
        assert derived.closed
        assert not client.closed
        assert client.customers.list() == []  # the transport under both stays open
        with pytest.raises(RuntimeError, match="SyncClient is closed"):
            derived.customers.list()
    assert client.closed
    client.close()  # again: nothing
    with pytest.raises(RuntimeError, match="SyncClient is closed"):
        client.customers.get("cst_1")
    with pytest.raises(RuntimeError, match="SyncClient is closed"):
        client.__enter__()
    assert derived.closed


def test_a_client_never_used_closes_its_transport(fake: FakeEcomCharge) -> None:
    transport = fake.transport()
    ec.SyncClient(SHOP_ID, SECRET, transport=transport).close()
    with pytest.raises(RuntimeError, match="FakeTransport is closed"):
        asyncio.run(transport.send(ec.Request(method="GET", url="https://x", headers={})))


def test_a_dropped_client_gives_its_transport_back(fake: FakeEcomCharge) -> None:
    transport = fake.transport()
    client = ec.SyncClient(SHOP_ID, SECRET, transport=transport)
    assert client.customers.list() == []
    closed = noted_close(transport)
    del client
    gc.collect()
    assert closed.wait(10)


@pytest.mark.parametrize("kind", KINDS)
def test_leaving_iter_early_gives_the_connection_back_at_once(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    for i in range(600):  # more than two batches
        fake.add(email=f"{i}@example.com", ip=NEW.ip)
    transport: ec.Transport = (
        ec.AiohttpTransport(limit=1, pool_timeout=5) if kind == "aiohttp" else fake.transport()
    )
    client = make_sync(kind, transport=transport)
    customers = client.customers.iter()
    assert next(customers).email == "0@example.com"
    customers.close()
    # With one connection in the pool, this call waits for it unless it came back.
    assert client.customers.get(fake.customers[0].id) == fake.customers[0]
    assert [c.email for c in client.customers.iter()] == [f"{i}@example.com" for i in range(600)]


def test_iter_yields_the_customers_before_a_broken_stream_then_raises(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    for i in range(3):
        fake.add(email=f"{i}@example.com", ip=NEW.ip)
    broken = ec.Response(status=200, headers={}, body=fake.handle(_list_request()).body[:-20])

    class Cut:
        async def send(self, request: ec.Request) -> ec.Response:
            return broken

        async def aclose(self) -> None:
            pass

    client = make_sync("fake", transport=Cut())
    customers = client.customers.iter()
    seen = [next(customers).email, next(customers).email]
    with pytest.raises(ec.DecodeError):
        next(customers)
    assert seen == ["0@example.com", "1@example.com"]
    broken = ec.Response(status=200, headers={}, body=b'[{"id": "cst_1", "email')
    with pytest.raises(ec.DecodeError):
        next(client.customers.iter())  # broken before the first customer
