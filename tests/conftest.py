"""Shared fixtures: a fresh fake shop, a client wired to it, and the fake over loopback HTTP."""

from __future__ import annotations

import asyncio
import importlib.util
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import run_app, serve

# The package's own pytest plugin comes from here, not from its entry point (see
# addopts in pyproject.toml); tests/test_pytest_plugin.py checks the entry point.
# tests/memory_guard.py caps the memory of the test process.
pytest_plugins = ["pytester", "memory_guard", "ecomcharge_async.testing.pytest_plugin"]

#: httpx is an optional extra; without it (nox session tests_without_httpx) the
#: httpx-only module is not collected, and the conformance suite covers the rest.
HAVE_HTTPX = importlib.util.find_spec("httpx") is not None
collect_ignore = [] if HAVE_HTTPX else ["test_httpx.py"]
#: The Celery tests need the celery extra; nox installs it in one session only.
if importlib.util.find_spec("celery") is None:
    collect_ignore.append("test_celery.py")
#: The transports that speak real HTTP, for tests every one of them must pass.
HTTP_KINDS = ["aiohttp", *(["httpx"] if HAVE_HTTPX else [])]

SHOP_ID = "361"
SECRET = "test-secret-key-do-not-leak"


def http_transport(kind: str, **options: Any) -> ec.Transport:
    """An `AiohttpTransport` or `HttpxTransport`; `tls=` becomes `ssl=` or `verify=`."""
    if "tls" in options:
        options["ssl" if kind == "aiohttp" else "verify"] = options.pop("tls")
    if kind == "aiohttp":
        return ec.AiohttpTransport(**options)
    return ec.HttpxTransport(**options)  # type: ignore[no-any-return]


class FakeTime:
    """A clock that only moves when someone sleeps on it; `sleeps` records each sleep.

    With `interleave`, a sleep also lets the other tasks run, as a real one does.
    """

    def __init__(self, now: float = 0.0, *, interleave: bool = False) -> None:
        self.now = now
        self.interleave = interleave
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.interleave:
            await asyncio.sleep(0)


async def arrived(fake: FakeEcomCharge, count: int = 1) -> None:
    """Wait until `count` requests have reached `fake` (in process or over HTTP), 5 s at most."""
    async with asyncio.timeout(5):
        while fake.request_count < count:  # noqa: ASYNC110 - the fake has no event to wait on
            await asyncio.sleep(0.001)


@pytest.fixture
def fake() -> FakeEcomCharge:
    return FakeEcomCharge(shop_id=SHOP_ID, secret_key=SECRET, seed=7)


@pytest.fixture
async def client(fake: FakeEcomCharge) -> AsyncIterator[ec.Client]:
    async with ec.Client(SHOP_ID, SECRET, transport=fake.transport()) as client:
        yield client


@pytest.fixture
async def make_client(fake: FakeEcomCharge) -> AsyncIterator[Callable[..., ec.Client]]:
    """Build clients for the fake shop with any options; they are closed afterwards."""
    made: list[ec.Client] = []

    def make(**options: Any) -> ec.Client:
        options.setdefault("transport", fake.transport())
        made.append(ec.Client(SHOP_ID, SECRET, **options))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def server_url(fake: FakeEcomCharge) -> AsyncIterator[str]:
    """The same fake shop served over real HTTP on 127.0.0.1 (random port)."""
    async with serve(fake) as url:
        yield url


@pytest.fixture
async def http_client(server_url: str) -> AsyncIterator[ec.Client]:
    """A client on the default AiohttpTransport talking to the loopback fake."""
    async with ec.Client(SHOP_ID, SECRET, base_url=server_url) as client:
        yield client


async def _echo(request: web.Request) -> web.Response:
    payload = {
        "method": request.method,
        "path": request.path_qs,
        "headers": dict(request.headers),
        "body": (await request.read()).decode(),
    }
    return web.json_response(payload, status=201, headers={"X-Echo": "yes"})


async def _redirect(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/echo"})


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    """A loopback server: /echo answers 201 with what it got, /redirect is a 302 to it."""
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/redirect", _redirect)
    async with run_app(app, shutdown_timeout=0.1) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_ecomcharge_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never pick up a developer's real credentials, nor write into the real home:
    default journals go to a folder of the test's own (children inherit it)."""
    for name in ("ECOMCHARGE_SHOP_ID", "ECOMCHARGE_SECRET_KEY", "ECOMCHARGE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("ECOMCHARGE_STATE_DIR", str(state / "ecomcharge"))
    monkeypatch.setenv("XDG_STATE_HOME", str(state / "xdg"))


class ServerProcess:
    """`python -m ecomcharge_async.testing serve` running as a child process."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url


def _read_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"the fake server printed no URL within {timeout} s")
    return process.stdout.readline().strip()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start fake servers in child processes; every one is killed when the test ends."""
    children: list[subprocess.Popen[str]] = []

    def start(*args: str) -> ServerProcess:
        log = (tmp_path / f"server{len(children)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "ecomcharge_async.testing", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        children.append(process)
        url = _read_url(process, timeout=30)
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server did not start: {url!r}")
        return ServerProcess(process, url)

    try:
        yield start
    finally:
        for process in children:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()
