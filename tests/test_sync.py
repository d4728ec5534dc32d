"""`SyncClient`: the async client's calls without `await`, from threads, loops and forks.

Each behaviour runs through the in-process fake and through the default aiohttp
transport against the fake served over HTTP on loopback. The server runs on an
event loop of its own thread, so a blocking sync call in the test's thread (or
inside the test's running loop) never stalls it.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import SECRET, SHOP_ID
from sync_support import Loopback, NoteCancel

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault

KINDS = ["fake", "aiohttp"]


@pytest.fixture
def loopback(fake: FakeEcomCharge) -> Iterator[Loopback]:
    served = Loopback(fake)
    yield served
    served.close()


@pytest.fixture
def make_sync(
    request: pytest.FixtureRequest, fake: FakeEcomCharge
) -> Iterator[Callable[..., ec.SyncClient]]:
    """Build sync clients on `kind` ("fake" or "aiohttp"); all closed afterwards."""
    made: list[ec.SyncClient] = []

    def make(kind: str, **options: Any) -> ec.SyncClient:
        if kind == "fake":
            options.setdefault("transport", fake.transport())
        else:
            options.setdefault("base_url", request.getfixturevalue("loopback").url)
        made.append(ec.SyncClient(SHOP_ID, SECRET, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


NEW = ec.NewCustomer(email="john@example.com", ip="203.0.113.7")


@pytest.mark.parametrize("kind", KINDS)
def test_the_calls_return_what_the_async_calls_return(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    client = make_sync(kind)
    created = client.customers.create(NEW)
    assert isinstance(created, ec.Customer)
    assert fake.customers == [created]
    assert client.customers.get(created.id) == created
    assert client.customers.list() == [created]
    assert list(client.customers.iter()) == [created]
    raw = client.customers.with_raw_response.get(created.id)
    assert isinstance(raw, ec.RawResponse)
    assert (raw.status, raw.attempts, raw.parse()) == (200, 1, created)
    assert client.customers.with_raw_response.list().parse() == [created]
    made = client.customers.with_raw_response.create(NEW)
    assert made.status == 201
    assert made.parse() in fake.customers


@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_the_async_clients_classes(
    kind: str, make_sync: Callable[..., ec.SyncClient]
) -> None:
    client = make_sync(kind)
    with pytest.raises(ec.ValidationError) as invalid:
        client.customers.create(ec.NewCustomer(email="a@example.com", ip=""))
    assert invalid.value.errors == {"ip": ["address is invalid", "can't be blank"]}
    with pytest.raises(ec.NotFoundError):
        client.customers.get("cst_0000000000000000")
    with pytest.raises(ValueError, match="not allowed in a path"):
        client.customers.get("../x")
    with pytest.raises(TypeError, match="takes a NewCustomer"):
        client.customers.create({"email": "a@example.com"})  # type: ignore[arg-type]


def test_the_arguments_are_exactly_the_clients() -> None:
    ours = inspect.signature(ec.SyncClient).parameters
    theirs = inspect.signature(ec.Client).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]


def test_the_environment_is_read_and_the_clients_checks_apply(
    monkeypatch: pytest.MonkeyPatch, fake: FakeEcomCharge
) -> None:
    with pytest.raises(ValueError, match="missing shop_id"):
        ec.SyncClient(transport=fake.transport())
    with pytest.raises(ValueError, match="refusing plain http://"):
        ec.SyncClient(SHOP_ID, SECRET, base_url="http://example.com")
    monkeypatch.setenv("ECOMCHARGE_SHOP_ID", SHOP_ID)
    monkeypatch.setenv("ECOMCHARGE_SECRET_KEY", SECRET)
    monkeypatch.setenv("ECOMCHARGE_BASE_URL", "https://api.example.test")
    with ec.SyncClient(transport=fake.transport(), timeout=5) as client:
        assert (client.shop_id, client.base_url, client.timeout) == (
            SHOP_ID,
            "https://api.example.test",
            5,
        )
        assert client.retry == ec.RetryPolicy()
        assert repr(client) == "SyncClient(shop_id='361', base_url='https://api.example.test')"
        assert client.customers.list() == []


@pytest.mark.parametrize("kind", KINDS)
def test_32_threads_share_one_client_without_a_lost_or_doubled_call(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    client = make_sync(kind)
    per_thread = 10
    start = threading.Barrier(32)
    results: dict[int, list[str]] = {}

    def work(n: int) -> None:
        start.wait(30)
        ids = []
        for i in range(per_thread):
            made = client.customers.create(ec.NewCustomer(email=f"t{n}-{i}@example.com", ip=NEW.ip))
            assert client.customers.get(made.id) == made
            ids.append(made.id)
        results[n] = ids

    threads = [threading.Thread(target=work, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == list(range(32))
    emails = sorted(c.email or "" for c in fake.customers)
    assert emails == sorted(f"t{n}-{i}@example.com" for n in range(32) for i in range(per_thread))
    ids = [i for batch in results.values() for i in batch]
    assert sorted(ids) == sorted(c.id for c in fake.customers)
    assert fake.request_count == 2 * 32 * per_thread


@pytest.mark.parametrize("kind", KINDS)
async def test_a_call_inside_a_running_event_loop_works(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    asyncio.get_running_loop()  # the test's own loop runs: as in a notebook cell
    client = make_sync(kind)
    made = client.customers.create(NEW)
    assert client.customers.get(made.id) == made
    assert list(client.customers.iter()) == [made]


def test_a_call_on_the_sdks_own_loop_is_refused_not_deadlocked(
    make_sync: Callable[..., ec.SyncClient],
) -> None:
    inner = make_sync("fake")
    seen: list[BaseException] = []

    async def calls_sync_code(request: ec.Request, call_next: ec.Handler) -> ec.Response:
        try:
            inner.customers.list()
        except RuntimeError as exc:
            seen.append(exc)
        return await call_next(request)

    outer = make_sync("fake", middleware=[calls_sync_code])
    assert outer.customers.list() == []
    assert len(seen) == 1
    assert "await the async Client" in str(seen[0])


@pytest.mark.parametrize("kind", KINDS)
def test_a_transport_made_outside_any_loop_runs_on_the_sdks_loop(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge, request: Any
) -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()  # no loop here: the transport is made outside any
    transport: ec.Transport = (
        ec.AiohttpTransport(limit=2) if kind == "aiohttp" else fake.transport()
    )
    client = make_sync(kind, transport=transport)
    start = threading.Barrier(8)
    done: list[ec.Customer] = []

    def work(n: int) -> None:
        start.wait(30)
        for i in range(5):
            done.append(
                client.customers.create(ec.NewCustomer(email=f"{n}.{i}@example.com", ip=NEW.ip))
            )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(c.id for c in done) == sorted(c.id for c in fake.customers)
    assert len(done) == 40
    if kind == "aiohttp":
        assert 1 <= len(request.getfixturevalue("loopback").peers) <= 2  # the pool's limit held
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(transport.send(ec.Request(method="GET", url=client.base_url, headers={})))


def _list_request() -> ec.Request:
    headers = {"Authorization": "Basic " + base64.b64encode(b"361:" + SECRET.encode()).decode()}
    return ec.Request(method="GET", url="https://x/customers", headers=headers)


def test_middleware_stay_async_and_see_every_call(make_sync: Callable[..., ec.SyncClient]) -> None:
    operations: list[tuple[str, bool]] = []

    async def note(request: ec.Request, call_next: ec.Handler) -> ec.Response:
        operations.append((request.method, asyncio.get_running_loop() is not None))
        return await call_next(request)

    client = make_sync("fake", middleware=[note], retry=ec.RetryPolicy(sleep=_no_sleep))
    client.customers.create(NEW)
    client.customers.list()
    assert operations == [("POST", True), ("GET", True)]


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def test_retries_run_on_the_loop(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.status(503), None)
    client = make_sync("fake", retry=ec.RetryPolicy(sleep=_no_sleep))
    assert client.customers.with_raw_response.list().attempts == 2


def test_an_interrupted_wait_cancels_the_call_on_the_loop(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    assert threading.current_thread() is threading.main_thread()  # where Ctrl-C lands
    fake.inject(Fault.delay(60))
    note_cancel = NoteCancel()
    interrupter = threading.Thread(target=_interrupt_once_arrived, args=(fake,))
    watched = make_sync("fake", retry=None, middleware=[note_cancel])
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        watched.customers.list()
    interrupter.join(30)
    assert note_cancel.cancelled.wait(10)
    assert watched.customers.list() == []  # the client still works


def _interrupt_once_arrived(fake: FakeEcomCharge) -> None:
    for _ in range(5000):
        if fake.request_count:
            break
        threading.Event().wait(0.001)
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
