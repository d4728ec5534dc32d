"""Who runs the SDK's loop for a sync call: the caller itself while the loop is parked (it
leads), the loop thread when the caller cannot or other calls are still in flight.

A middleware (`Gate`) notes the thread that runs each side of a call and holds
the calls the test names until it opens them, so each state of the loop is
reached by events, never by waiting for time to pass.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import test_sync
from conftest import SECRET, SHOP_ID
from sync_support import Loopback, noted_close
from test_sync import KINDS, NEW
from test_sync_process import in_child

import ecomcharge_async as ec
from ecomcharge_async._core import process_loop
from ecomcharge_async.testing import FakeEcomCharge

# The fixtures that serve the fake on loopback and build sync clients, shared.
loopback = test_sync.loopback
make_sync = test_sync.make_sync

LOOP_THREAD = "ecomcharge-loop"


class Gate:
    """A middleware: notes the thread running each call (by its `X-Gate` header) before and
    after the hold, and holds the calls named in `held` until `open`."""

    def __init__(self, *held: str) -> None:
        self.arrived = {name: threading.Event() for name in held}
        self._opened: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self.threads: dict[str, list[str]] = {}

    async def __call__(self, request: ec.Request, call_next: ec.Handler) -> ec.Response:
        name = request.headers.get("X-Gate", "")
        threads = self.threads.setdefault(name, [])
        threads.append(threading.current_thread().name)
        if name in self.arrived:
            opened = asyncio.Event()
            self._opened[name] = (asyncio.get_running_loop(), opened)
            self.arrived[name].set()
            await opened.wait()
            threads.append(threading.current_thread().name)
        return await call_next(request)

    def open(self, name: str) -> None:
        loop, opened = self._opened[name]
        loop.call_soon_threadsafe(opened.set)


def tagged(client: ec.SyncClient, name: str) -> ec.SyncClient:
    return client.with_options(headers={"X-Gate": name})


def in_thread(name: str, work: Callable[[], Any], results: dict[str, Any]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.update({name: work()}), name=name)
    thread.start()
    return thread


def parked() -> bool:
    """Whether the loop is parked, waiting (with a bound) for the loop thread to park it."""
    runner = process_loop.loop_thread()
    for _ in range(30_000):
        if runner._holder is None and not runner.loop.is_running():
            return True
        threading.Event().wait(0.001)
    return False


@pytest.mark.parametrize("kind", KINDS)
def test_a_caller_finding_the_loop_parked_runs_it_in_its_own_thread(
    kind: str, make_sync: Callable[..., ec.SyncClient]
) -> None:
    gate = Gate()
    client = make_sync(kind, middleware=[gate])
    made = client.customers.create(NEW)
    assert parked()
    results: dict[str, Any] = {}
    in_thread("caller", lambda: client.customers.get(made.id), results).join(30)
    assert results == {"caller": made}
    assert gate.threads[""] == ["MainThread", "caller"]
    assert parked()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


@pytest.mark.parametrize("kind", KINDS)
def test_calls_arriving_while_a_caller_leads_run_on_its_loop_then_the_loop_thread_takes_over(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    gate = Gate("a", "b")
    client = make_sync(kind, middleware=[gate])
    results: dict[str, Any] = {}
    a = in_thread("a", lambda: tagged(client, "a").customers.create(NEW), results)
    assert gate.arrived["a"].wait(30)
    b = in_thread("b", lambda: tagged(client, "b").customers.list(), results)
    assert gate.arrived["b"].wait(30)
    assert gate.threads["b"] == ["a"]  # b's call runs on the loop a runs
    gate.open("a")
    a.join(30)
    assert not a.is_alive()  # a's call is over, and a is gone, while b's still runs
    assert b.is_alive()
    assert gate.threads["a"] == ["a", "a"]
    gate.open("b")
    b.join(30)
    assert gate.threads["b"] == ["a", LOOP_THREAD]  # taken over: b's call went on
    assert results == {"a": fake.customers[0], "b": fake.customers}
    assert parked()
    assert client.customers.list() == fake.customers
    assert gate.threads[""] == ["MainThread"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_thread_whose_own_loop_runs_hands_its_call_to_the_loop_thread(
    kind: str, make_sync: Callable[..., ec.SyncClient]
) -> None:
    gate = Gate()
    client = make_sync(kind, middleware=[gate])
    assert parked()
    assert client.customers.list() == []  # blocks this running loop meanwhile
    assert gate.threads[""] == [LOOP_THREAD]
    assert parked()


@pytest.fixture
def idle_closer(fake: FakeEcomCharge) -> Iterator[Loopback]:
    served = Loopback(fake)
    yield served
    served.close()


def test_a_parked_loop_sees_a_connection_the_server_closed_before_the_call_picks_one(
    idle_closer: Loopback, fake: FakeEcomCharge
) -> None:
    with ec.SyncClient(SHOP_ID, SECRET, base_url=idle_closer.url) as client:
        first = client.customers.create(NEW)  # its connection stays in the pool, idle
        assert parked()
        idle_closer.close_idle()
        again = client.customers.with_raw_response.create(NEW)
        assert (again.status, again.attempts) == (201, 1)  # no retry of the POST
        assert fake.customers == [first, again.parse()]
        assert fake.request_count == 2
        assert len(idle_closer.transports) == 2  # a new connection for the second


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_dropped_while_a_caller_leads_is_closed_on_its_loop(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    gate = Gate("a")
    client = make_sync(kind, middleware=[gate])
    transport = fake.transport()
    dropped = ec.SyncClient(SHOP_ID, SECRET, transport=transport)
    assert dropped.customers.list() == []
    closed = noted_close(transport)
    results: dict[str, Any] = {}
    a = in_thread("a", lambda: tagged(client, "a").customers.list(), results)
    assert gate.arrived["a"].wait(30)
    del dropped
    gc.collect()
    assert closed.wait(10)  # closed while a still leads, its call held
    gate.open("a")
    a.join(30)
    assert results == {"a": []}
    assert parked()


@pytest.mark.parametrize("state", ["led by a caller", "run by the loop thread"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_fork_while_the_loop_runs_gives_the_child_a_loop_of_its_own(
    kind: str, state: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    gate = Gate("a", "b")
    client = make_sync(kind, middleware=[gate])
    runner = process_loop.loop_thread()
    results: dict[str, Any] = {}
    a = in_thread("a", lambda: tagged(client, "a").customers.create(NEW), results)
    assert gate.arrived["a"].wait(30)
    held, threads = "a", [a]
    if state == "run by the loop thread":
        threads.append(in_thread("b", lambda: tagged(client, "b").customers.list(), results))
        assert gate.arrived["b"].wait(30)
        gate.open("a")
        a.join(30)
        held = "b"
    assert runner._holder == (a.ident if held == "a" else runner._thread_id)

    def child() -> list[Any]:
        made = client.customers.create(ec.NewCustomer(email="child@example.com", ip=NEW.ip))
        got = client.customers.get(made.id)
        return [made.email, got.email, gate.threads[""], process_loop.loop_thread() is runner]

    assert in_child(child) == ["child@example.com", "child@example.com", ["MainThread"] * 2, False]
    gate.open(held)
    for thread in threads:
        thread.join(30)
    assert results["a"] in fake.customers
    assert parked()
    assert client.customers.get(results["a"].id) == results["a"]


DAEMON_LEADS_AT_EXIT = """
import contextlib
import threading
import ecomcharge_async as ec
from ecomcharge_async._core import process_loop
from ecomcharge_async.testing import FakeEcomCharge, Fault

fake = FakeEcomCharge(shop_id="361", secret_key="demo-secret")
client = ec.SyncClient("361", "demo-secret", transport=fake.transport())
client.customers.list()
fake.inject(Fault.delay(60))


def held_call():
    with contextlib.suppress(RuntimeError):  # its transport closes under it at exit
        client.customers.list()


leader = threading.Thread(target=held_call, daemon=True)
leader.start()
for _ in range(30_000):
    if fake.request_count == 2:
        break
    threading.Event().wait(0.001)
print(process_loop.loop_thread()._holder == leader.ident)
"""


def test_exit_while_a_daemon_thread_leads_the_loop_is_prompt_and_silent() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", textwrap.dedent(DAEMON_LEADS_AT_EXIT)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "True\n")


def test_a_stream_dropped_while_its_thread_leads_the_loop_is_closed_on_it(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    for i in range(600):  # more than two batches: the stream stays open after the first
        fake.add(email=f"{i}@example.com", ip=NEW.ip)
    dropped: list[Any] = []

    async def drop_and_collect(request: ec.Request, call_next: ec.Handler) -> ec.Response:
        if dropped:  # on the loop this thread runs: the stream's close cannot wait here
            dropped.clear()
            gc.collect()
        return await call_next(request)

    transport = ec.AiohttpTransport(limit=1, pool_timeout=5)
    client = make_sync("aiohttp", transport=transport, middleware=[drop_and_collect])
    customers = client.customers.iter()
    assert next(customers).email == "0@example.com"
    holder: list[Any] = [customers]
    holder.append(holder)  # a cycle: only the collector frees the generator
    dropped.append(holder)
    del customers, holder
    # The middleware drops it; with one connection, this call waits for it unless the
    # stream's close ran on the loop and gave it back.
    assert client.customers.get(fake.customers[0].id) == fake.customers[0]
    assert dropped == []
