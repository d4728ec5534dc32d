"""HttpxTransport: sharing an app's AsyncClient safely, and httpx errors mapped like aiohttp's.

Not collected when httpx is not installed (see conftest); the conformance suite in
test_transports.py covers the scenarios common to every transport.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

import ecomcharge_async as ec
from ecomcharge_async._httpx import HttpxTransport

URL = "https://api.ecomcharge.com/customers"


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
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/redirect", _redirect)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def test_the_lazy_public_name_is_the_transport() -> None:
    assert ec.HttpxTransport is HttpxTransport
    assert isinstance(HttpxTransport(), ec.StreamingTransport)


async def test_sends_method_headers_body_and_returns_the_whole_response(echo_url: str) -> None:
    transport = HttpxTransport()
    try:
        response = await transport.send(
            ec.Request(
                method="POST",
                url=f"{echo_url}/echo?x=1",
                headers={"Authorization": "Basic abc", "Content-Type": "application/json"},
                body=b'{"a":1}',
            )
        )
    finally:
        await transport.aclose()
    assert response.status == 201
    assert response.headers["X-Echo"] == "yes"  # the server's spelling is kept
    echoed = json.loads(response.body)
    assert (echoed["method"], echoed["path"], echoed["body"]) == ("POST", "/echo?x=1", '{"a":1}')
    assert echoed["headers"]["Authorization"] == "Basic abc"


async def test_a_shared_client_is_used_without_leaking_its_defaults(echo_url: str) -> None:
    """An app's AsyncClient may carry another service's credentials: none may reach us."""
    async with httpx.AsyncClient(
        headers={"X-Other-Service-Key": "other-secret"},
        auth=("other-user", "other-password"),
        cookies={"session": "other-cookie"},
        params={"tenant": "other"},
    ) as shared:
        transport = HttpxTransport(shared)
        response = await transport.send(
            ec.Request(
                method="GET", url=f"{echo_url}/echo", headers={"Authorization": "Basic ours"}
            )
        )
        await transport.aclose()
        assert not shared.is_closed
    echoed = json.loads(response.body)
    assert echoed["headers"]["Authorization"] == "Basic ours"
    assert "other" not in json.dumps(echoed)
    assert "shared" in repr(transport)


async def test_redirects_are_returned_not_followed(echo_url: str) -> None:
    transport = HttpxTransport()
    try:
        response = await transport.send(ec.Request(method="GET", url=f"{echo_url}/redirect"))
    finally:
        await transport.aclose()
    assert (response.status, response.header("location")) == (302, "/echo")


async def test_closes_only_the_client_it_created(echo_url: str) -> None:
    transport = HttpxTransport()
    await transport.send(ec.Request(method="GET", url=f"{echo_url}/echo"))
    own = transport._client
    await transport.aclose()
    assert own is not None
    assert own.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(ec.Request(method="GET", url=f"{echo_url}/echo"))


def test_can_be_built_outside_a_running_loop() -> None:
    transport = HttpxTransport(timeout=5)
    assert transport._client is None
    assert repr(transport) == "HttpxTransport(client=own, timeout=5)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"timeout": 0}, "timeout must be positive"), ({"limit": 0}, "limit must be at least 1")],
)
def test_bad_options_fail_at_construction(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpxTransport(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exception", "error", "text"),
    [
        (httpx.ConnectError("refused"), ec.ConnectError, "refused"),
        (httpx.ConnectTimeout("connect"), ec.ConnectError, "timed out connecting"),
        (httpx.PoolTimeout("pool"), ec.ConnectError, "timed out connecting"),
        (httpx.ProxyError("proxy down"), ec.ConnectError, "proxy down"),
        (httpx.UnsupportedProtocol("ftp"), ec.ConnectError, "ftp"),
        (httpx.ReadTimeout("read"), ec.APITimeoutError, "in time"),
        (httpx.WriteTimeout("write"), ec.APITimeoutError, "in time"),
        (httpx.ReadError("reset"), ec.APIConnectionError, "ReadError: reset"),
        (httpx.RemoteProtocolError("cut"), ec.APIConnectionError, "RemoteProtocolError"),
        (httpx.DecodingError("gzip"), ec.APIConnectionError, "gzip"),
        (ConnectionResetError("reset"), ec.APIConnectionError, "ConnectionResetError"),
    ],
)
async def test_httpx_exceptions_map_to_our_errors(
    exception: Exception, error: type[ec.EcomChargeError], text: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exception

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as mocked:
        transport = HttpxTransport(mocked)
        with pytest.raises(error, match=text) as info:
            await transport.send(ec.Request(method="POST", url=URL, body=b"{}"))
    assert type(info.value) is error
    assert info.value.__cause__ is exception
    assert "api.ecomcharge.com" in str(info.value)


async def test_an_invalid_url_is_connect_error() -> None:
    transport = HttpxTransport()
    try:
        with pytest.raises(ec.ConnectError, match="cannot connect"):
            await transport.send(ec.Request(method="GET", url="http://\x00/customers"))
    finally:
        await transport.aclose()


async def test_the_client_works_over_httpx_against_the_loopback_fake() -> None:
    from ecomcharge_async.testing import FakeEcomCharge
    from ecomcharge_async.testing._server import serve

    fake = FakeEcomCharge(shop_id="361", secret_key="s")
    async with (
        serve(fake) as url,
        ec.Client("361", "s", base_url=url, transport=ec.HttpxTransport()) as client,
    ):
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert await client.customers.get(created.id) == created
    assert fake.customers == [created]
