"""AiohttpTransport's own ways: its session, and aiohttp's errors mapped to ours.

What every transport must do (sending, timeouts, streams, the body cap, closing,
event loops) is held to in the conformance suite, tests/test_transports.py.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

import ecomcharge_async as ec
from ecomcharge_async.testing._server import run_app


async def test_reuses_one_session_for_all_calls(echo_url: str) -> None:
    transport = ec.AiohttpTransport()
    try:
        await transport.send(ec.Request(method="GET", url=f"{echo_url}/echo"))
        first = transport._session
        await transport.send(ec.Request(method="GET", url=f"{echo_url}/echo"))
        assert transport._session is first is not None
    finally:
        await transport.aclose()
    assert first.closed


async def test_a_shared_session_is_used_and_left_open(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        transport = ec.AiohttpTransport(session)
        response = await transport.send(ec.Request(method="GET", url=f"{echo_url}/echo"))
        assert response.status == 201
        await transport.aclose()
        assert not session.closed


async def test_a_shared_sessions_raise_for_status_does_not_change_our_errors(
    server_url: str,
) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        client = ec.Client(
            "361", "wrong", base_url=server_url, transport=ec.AiohttpTransport(session)
        )
        with pytest.raises(ec.AuthenticationError):
            await client.customers.list()
        await client.aclose()


async def test_a_shared_session_with_its_own_auth_is_refused() -> None:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer x"}) as plain:
        assert ec.AiohttpTransport(plain)  # default headers are the app's business
    # aiohttp 3.14 deprecates auth= itself; users who still pass it must get a clear error.
    with pytest.warns(DeprecationWarning, match="deprecated"):
        session = aiohttp.ClientSession(auth=aiohttp.BasicAuth("user", "pass"))
    async with session:
        with pytest.raises(ValueError, match="has auth= set"):
            ec.AiohttpTransport(session)


def test_can_be_built_outside_a_running_loop() -> None:
    transport = ec.AiohttpTransport()
    assert transport._session is None
    assert "own" in repr(transport)


URL = "https://api.ecomcharge.com/customers"


@pytest.mark.parametrize(
    ("exception", "error", "text"),
    [
        (aiohttp.ServerDisconnectedError(), ec.APIConnectionError, "ServerDisconnectedError"),
        (aiohttp.ClientPayloadError("cut"), ec.APIConnectionError, "cut"),
        (ConnectionResetError("reset"), ec.APIConnectionError, "reset"),
        (TimeoutError(), ec.APITimeoutError, "in time"),
        (aiohttp.ServerTimeoutError("read"), ec.APITimeoutError, "in time"),
        (aiohttp.ConnectionTimeoutError("connect"), ec.ConnectError, "timed out connecting"),
        (aiohttp.InvalidURL(URL), ec.ConnectError, "cannot connect"),
    ],
)
async def test_aiohttp_exceptions_map_to_our_errors(
    exception: Exception, error: type[ec.EcomChargeError], text: str
) -> None:
    transport = ec.AiohttpTransport()
    try:
        with aioresponses() as mocked:
            mocked.post(URL, exception=exception)
            with pytest.raises(error, match=text) as info:
                await transport.send(ec.Request(method="POST", url=URL, body=b"{}"))
    finally:
        await transport.aclose()
    assert type(info.value) is error
    assert info.value.__cause__ is exception


async def test_client_decodes_responses_from_aioresponses() -> None:
    body = {"id": "cst_7aee5afb954c7ef7", "email": "customer@example.com", "ip": "127.0.0.1"}
    async with ec.Client("361", "secret", retry=None) as client:
        with aioresponses() as mocked:
            mocked.post(URL, status=201, payload=body)
            mocked.get(URL, status=200, payload=[body])
            mocked.get(f"{URL}/cst_7aee5afb954c7ef7", status=502, body="<html>gateway</html>")
            created = await client.customers.create(
                ec.NewCustomer(email="customer@example.com", ip="127.0.0.1")
            )
            assert created.id == "cst_7aee5afb954c7ef7"
            assert await client.customers.list() == [created]
            with pytest.raises(ec.ServerError, match="HTTP 502"):
                await client.customers.get(created.id)
            sent = mocked.requests[("POST", aiohttp.client.URL(URL))][0].kwargs
    assert sent["headers"]["Authorization"] == aiohttp.encode_basic_auth("361", "secret")
    assert json.loads(sent["data"]) == {"email": "customer@example.com", "ip": "127.0.0.1"}


async def _sets_a_cookie(_request: web.Request) -> web.Response:
    response = web.Response(text="ok")
    response.set_cookie("AWSALB", "node-7")  # as a load balancer in front of the API does
    return response


async def _echoes_the_cookie(request: web.Request) -> web.Response:
    return web.Response(text=request.headers.get("Cookie", ""))


async def test_the_transport_s_own_session_keeps_no_cookie() -> None:
    app = web.Application()
    app.router.add_get("/set", _sets_a_cookie)
    app.router.add_get("/cookie", _echoes_the_cookie)
    async with run_app(app, shutdown_timeout=0.1) as url:
        # By name: aiohttp's cookie jar would keep no cookie of an IP address anyway.
        url = url.replace("127.0.0.1", "localhost")
        transport = ec.AiohttpTransport()
        try:
            first = await transport.send(ec.Request(method="GET", url=f"{url}/set"))
            assert "AWSALB=node-7" in first.headers["Set-Cookie"]
            sent = await transport.send(ec.Request(method="GET", url=f"{url}/cookie"))
            assert sent.body == b""  # not stored, not sent back
        finally:
            await transport.aclose()
