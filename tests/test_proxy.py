"""HTTP proxies: `proxy=` and `trust_env=` on both HTTP transports, the password kept out of sight.

The proxy is a small aiohttp.web app on 127.0.0.1 that records what arrives and
hands the request on to the fake shop, as a forward proxy would.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from conftest import HTTP_KINDS, SECRET, SHOP_ID, http_transport

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import run_app

PASSWORD = "pr0xy-pa55word"
ALICE = ec.NewCustomer(email="alice@example.com", ip="127.0.0.1")


class Proxy:
    """Records each request's target and Proxy-Authorization, then answers from the fake."""

    def __init__(self, fake: FakeEcomCharge) -> None:
        self.fake = fake
        self.seen: list[tuple[str, str, str | None]] = []

    async def forward(self, request: web.Request) -> web.Response:
        target = request.raw_path
        self.seen.append((request.method, target, request.headers.get("Proxy-Authorization")))
        headers = {k: v for k, v in request.headers.items() if not k.startswith("Proxy-")}
        answer = self.fake.handle(
            ec.Request(
                method=request.method, url=target, headers=headers, body=await request.read()
            )
        )
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


@pytest.fixture
async def proxy(fake: FakeEcomCharge) -> AsyncIterator[tuple[Proxy, str]]:
    forwarder = Proxy(fake)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forwarder.forward)
    async with run_app(app, shutdown_timeout=0.1) as url:
        yield forwarder, url


def with_password(url: str) -> str:
    return url.replace("http://", f"http://shop:{PASSWORD}@")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_requests_go_through_the_proxy_in_absolute_form_with_its_credentials(
    kind: str, proxy: tuple[Proxy, str], fake: FakeEcomCharge, caplog: pytest.LogCaptureFixture
) -> None:
    forwarder, proxy_url = proxy
    # The API itself is never listened on: only the proxy can answer for it.
    api = f"http://127.0.0.1:{free_port()}"
    transport = http_transport(kind, proxy=with_password(proxy_url))
    caplog.set_level(logging.DEBUG)
    async with ec.Client(SHOP_ID, SECRET, base_url=api, transport=transport) as client:
        created = await client.customers.create(ALICE)
        assert await client.customers.get(created.id) == created
    assert [(m, t) for m, t, _ in forwarder.seen] == [
        ("POST", f"{api}/customers"),
        ("GET", f"{api}/customers/{created.id}"),
    ]
    expected = "Basic " + base64.b64encode(f"shop:{PASSWORD}".encode()).decode()
    assert {auth for _, _, auth in forwarder.seen} == {expected}
    assert fake.customers == [created]
    assert PASSWORD not in repr(transport)
    assert "shop:***@127.0.0.1" in repr(transport)
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in str(record.args) for record in caplog.records)


class RawProxy:
    """A loopback proxy speaking raw HTTP/1.1: it answers each connection's request
    with `answer` and closes it, or (None) reads and never answers. `lines`
    records each request line it got."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.lines: list[str] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.lines.append(head.split(b"\r\n", 1)[0].decode())
            if self.answer is not None:
                writer.write(self.answer)
                await writer.drain()
                return
            while await reader.read(4096):  # silent until the client hangs up
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw_proxy() -> AsyncIterator[Callable[[bytes | None], Awaitable[tuple[RawProxy, str]]]]:
    servers: list[asyncio.Server] = []
    proxies: list[RawProxy] = []

    async def start(answer: bytes | None) -> tuple[RawProxy, str]:
        proxy = RawProxy(answer)
        proxies.append(proxy)
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return proxy, f"http://shop:{PASSWORD}@127.0.0.1:{port}"

    yield start
    for proxy in proxies:
        for writer in proxy.writers:
            writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


PROXY_407 = (
    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
    b'Proxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
)
PROXY_403 = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def failing_call(
    kind: str, proxy_url: str, api: str, caplog: pytest.LogCaptureFixture, **options: Any
) -> ec.EcomChargeError:
    """One list() through `proxy_url`; the error it raised, checked for the password."""
    caplog.set_level(logging.DEBUG)
    transport = http_transport(kind, proxy=proxy_url)
    async with ec.Client(SHOP_ID, SECRET, base_url=api, transport=transport, **options) as client:
        with pytest.raises(ec.EcomChargeError) as info:
            await client.customers.list()
    error = info.value
    shown = [str(error), repr(error), repr(transport), caplog.text]
    shown += [str(record.args) for record in caplog.records]
    shown += traceback.format_exception(error)  # the chain as a traceback prints it
    assert all(PASSWORD not in text for text in shown)
    return error


def named(proxy_url: str) -> str:
    """How messages name the proxy: host:port, no user, no password."""
    return "proxy " + proxy_url.rpartition("@")[2]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_an_unreachable_proxy_is_a_proxy_error_without_the_password(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://shop:{PASSWORD}@127.0.0.1:{free_port()}"
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    for api in (f"http://127.0.0.1:{free_port()}", f"https://127.0.0.1:{free_port()}"):
        sleeps.clear()
        retry = ec.RetryPolicy(max_attempts=2, sleep=record)
        error = await failing_call(kind, dead, api, caplog, retry=retry)
        assert type(error) is ec.ProxyError
        assert isinstance(error, ec.ConnectError)
        message = str(error)
        assert message.startswith(
            f"cannot connect to {named(dead)} (for {api[api.index('//') + 2 :]})"
        )
        assert "check the host and port in proxy=" in message
        assert (error.attempts, len(sleeps)) == (2, 1)  # surely not sent: retried


class NoNames(AbstractResolver):
    """Knows no host name, so no DNS query leaves the machine (a proxy name with a typo)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        self.asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_proxy_host_that_does_not_resolve_is_a_proxy_error(
    scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    resolver = NoNames()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver))
    typo = f"http://shop:{PASSWORD}@proxy.example:3128"
    transport = ec.AiohttpTransport(session, proxy=typo)
    api = f"{scheme}://127.0.0.1:{free_port()}"
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    retry = ec.RetryPolicy(sleep=record)
    async with (
        session,
        ec.Client(SHOP_ID, SECRET, base_url=api, transport=transport, retry=retry) as client,
    ):
        with pytest.raises(ec.ProxyError) as info:
            await client.customers.create(ALICE)
    assert str(info.value).startswith(
        f"cannot connect to proxy proxy.example:3128 (for {api.partition('//')[2]}): "
        "Name or service not known: check the host and port in proxy="
    )
    assert (info.value.attempts, len(sleeps)) == (3, 2)  # surely not sent: retried, a create too
    assert resolver.asked == ["proxy.example"] * 3  # the API's name is the proxy's to resolve
    shown = [
        str(info.value),
        repr(info.value),
        caplog.text,
        *traceback.format_exception(info.value),
    ]
    assert all(PASSWORD not in text for text in shown)


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_407_from_the_proxy_is_a_proxy_error_naming_the_proxy(
    kind: str, scheme: str, raw_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, proxy_url = await raw_proxy(PROXY_407)
    api = f"{scheme}://127.0.0.1:{free_port()}"
    error = await failing_call(kind, proxy_url, api, caplog, retry=None)
    assert type(error) is ec.ProxyError
    assert str(error).startswith(f"{named(proxy_url)} refused the request to 127.0.0.1:")
    assert "proxy authentication failed (407): check the user and password in proxy=" in str(error)
    method = "CONNECT" if scheme == "https" else "GET"
    assert [line.split()[0] for line in proxy.lines] == [method]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_407_is_retried_as_surely_not_sent_even_for_a_post(
    kind: str, raw_proxy: Any
) -> None:
    proxy, proxy_url = await raw_proxy(PROXY_407)
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    retry = ec.RetryPolicy(max_attempts=3, sleep=record)
    transport = http_transport(kind, proxy=proxy_url)
    api = f"http://127.0.0.1:{free_port()}"
    async with ec.Client(SHOP_ID, SECRET, base_url=api, transport=transport, retry=retry) as client:
        with pytest.raises(ec.ProxyError) as info:
            await client.customers.create(ALICE)
    assert info.value.attempts == 3
    assert [line.split()[0] for line in proxy.lines] == ["POST"] * 3


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_refused_connect_is_a_proxy_error_with_the_proxys_status(
    kind: str, raw_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, proxy_url = await raw_proxy(PROXY_403)
    port = free_port()
    error = await failing_call(kind, proxy_url, f"https://127.0.0.1:{port}", caplog, retry=None)
    assert type(error) is ec.ProxyError
    assert re.match(
        rf"{named(proxy_url)} refused to open a tunnel \(CONNECT\) to 127\.0\.0\.1:{port}: 403 "
        r"Forbidden: check that the proxy allows",
        str(error),
    )
    assert proxy.lines == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_connect_never_answered_is_a_proxy_error(
    kind: str, raw_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, proxy_url = await raw_proxy(None)
    port = free_port()
    api = f"https://127.0.0.1:{port}"
    error = await failing_call(kind, proxy_url, api, caplog, retry=None, timeout=0.5)
    assert type(error) is ec.ProxyError
    assert str(error).startswith(
        f"{named(proxy_url)} did not set up a tunnel (CONNECT) to 127.0.0.1:{port} in time"
    )
    assert proxy.lines == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_proxy_silent_after_a_plain_request_may_have_forwarded_it(
    kind: str, raw_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, proxy_url = await raw_proxy(None)
    api = f"http://127.0.0.1:{free_port()}"
    error = await failing_call(kind, proxy_url, api, caplog, retry=None, timeout=0.5)
    assert type(error) is ec.APITimeoutError  # not a ProxyError: it may have been sent
    assert [line.split()[0] for line in proxy.lines] == ["GET"]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_trust_env_reads_the_proxy_variables_and_is_off_by_default(
    kind: str, proxy: tuple[Proxy, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    forwarder, proxy_url = proxy
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", with_password(proxy_url))
    monkeypatch.setenv("http_proxy", with_password(proxy_url))
    api = f"http://127.0.0.1:{free_port()}"
    async with ec.Client(
        SHOP_ID, SECRET, base_url=api, transport=http_transport(kind, trust_env=True)
    ) as client:
        assert await client.customers.list() == []
    assert [target for _, target, _ in forwarder.seen] == [f"{api}/customers"]
    async with ec.Client(
        SHOP_ID, SECRET, base_url=api, transport=http_transport(kind), retry=None
    ) as client:
        with pytest.raises(ec.ConnectError):
            await client.customers.list()  # straight to the API, which is not there
    assert len(forwarder.seen) == 1


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize(
    ("proxy_url", "message"),
    [
        (f"socks5://u:{PASSWORD}@127.0.0.1:1080", "proxy must be an http"),
        (f"http://u:{PASSWORD}@127.0.0.1:99999", "proxy has an invalid port"),
        (f"u:{PASSWORD}@127.0.0.1", "proxy must be an http"),
    ],
)
def test_bad_proxy_urls_are_refused_without_the_password(
    kind: str, proxy_url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        http_transport(kind, proxy=proxy_url)
    assert PASSWORD not in str(info.value)
