"""HTTP proxies: `proxy=` and `trust_env=` on both HTTP transports, the password kept out of sight.

The proxy is a small aiohttp.web app on 127.0.0.1 that records what arrives and
hands the request on to the fake shop, as a forward proxy would.
"""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
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


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_an_unreachable_proxy_is_a_connect_error_without_the_password(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://shop:{PASSWORD}@127.0.0.1:{free_port()}"
    retry = ec.RetryPolicy(max_attempts=2, initial_backoff=0.001)
    caplog.set_level(logging.DEBUG)
    async with ec.Client(
        SHOP_ID,
        SECRET,
        base_url=f"http://127.0.0.1:{free_port()}",
        transport=http_transport(kind, proxy=dead),
        retry=retry,
    ) as client:
        with pytest.raises(ec.ConnectError) as info:
            await client.customers.list()
    shown = [str(info.value), repr(info.value), caplog.text]
    shown += [str(cause) for cause in (info.value.__cause__, info.value.__context__) if cause]
    assert all(PASSWORD not in text for text in shown)


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
