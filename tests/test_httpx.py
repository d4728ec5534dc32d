"""HttpxTransport: sharing an app's AsyncClient safely, and httpx errors mapped like aiohttp's.

Not collected when httpx is not installed (see conftest); the conformance suite in
test_transports.py covers the scenarios common to every transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from conftest import SECRET, SHOP_ID, arrived

import ecomcharge_async as ec
from ecomcharge_async._transports.httpx_transport import HttpxTransport
from ecomcharge_async._transports.proxy import Progress
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import create_app, run_app, serve

URL = "https://api.ecomcharge.com/customers"
AUTH = aiohttp.encode_basic_auth(SHOP_ID, SECRET)


def test_the_lazy_public_name_is_the_transport() -> None:
    assert ec.HttpxTransport is HttpxTransport
    assert isinstance(HttpxTransport(), ec.StreamingTransport)


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
    assert repr(transport) == "HttpxTransport(client=own, timeout=5.0)"


@pytest.mark.parametrize(
    ("exception", "error", "text"),
    [
        (httpx.ConnectError("refused"), ec.ConnectError, "refused"),
        (httpx.ConnectTimeout("connect"), ec.ConnectError, "timed out connecting"),
        (httpx.PoolTimeout("pool"), ec.PoolTimeoutError, "no free connection"),
        (httpx.ProxyError("proxy down"), ec.ProxyError, "a proxy on the way.*: proxy down"),
        (
            httpx.ProxyError("407 Proxy Authentication Required"),
            ec.ProxyError,
            r"proxy authentication failed \(407\): check the user and password in proxy=",
        ),
        (httpx.ProxyError("403 Forbidden"), ec.ProxyError, r"tunnel \(CONNECT\).*: 403 Forbidden"),
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
    # A ProxyError is not chained to the library's exception, which may print the proxy URL.
    assert info.value.__cause__ is (None if error is ec.ProxyError else exception)
    assert "api.ecomcharge.com" in str(info.value)


def test_a_pool_timeout_through_a_proxy_is_still_a_pool_timeout() -> None:
    """httpx's own pool is waited on before the proxy is reached: nothing to blame it for."""
    transport = HttpxTransport()
    error = transport._map_error(httpx.PoolTimeout("pool"), URL, "127.0.0.1:3128", Progress())
    assert type(error) is ec.PoolTimeoutError


async def test_an_invalid_url_is_connect_error() -> None:
    transport = HttpxTransport()
    try:
        with pytest.raises(ec.ConnectError, match="cannot connect"):
            await transport.send(ec.Request(method="GET", url="http://\x00/customers"))
    finally:
        await transport.aclose()


async def test_the_client_works_over_httpx_against_the_loopback_fake() -> None:
    fake = FakeEcomCharge(shop_id="361", secret_key="s")
    async with (
        serve(fake) as url,
        ec.Client("361", "s", base_url=url, transport=ec.HttpxTransport()) as client,
    ):
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert await client.customers.get(created.id) == created
    assert fake.customers == [created]


# -- closing (a transport over a shared client: test_transports.py) ---------------------


@pytest.fixture
async def slow_fake_url(fake: FakeEcomCharge) -> AsyncIterator[str]:
    """The fake shop over loopback HTTP, not waiting for delayed answers when it stops."""
    async with run_app(create_app(fake), shutdown_timeout=0.1) as url:
        yield url


async def test_cancelling_a_call_is_not_mistaken_for_closing(
    fake: FakeEcomCharge, slow_fake_url: str
) -> None:
    """aclose() ends calls by cancelling them; a caller's own cancellation stays one."""
    request = ec.Request(
        method="GET", url=f"{slow_fake_url}/customers", headers={"Authorization": AUTH}
    )
    transport = HttpxTransport()
    fake.inject(Fault.delay(60), Fault.delay(60))
    cancelled = asyncio.create_task(transport.send(request))
    both = asyncio.create_task(transport.send(request))
    await arrived(fake, 2)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    both.cancel()  # cancelled by its caller and then closed: still a cancellation
    await transport.aclose()
    with pytest.raises(asyncio.CancelledError):
        await both
    assert cancelled.cancelling() == both.cancelling() == 1  # aclose() took its own back
