"""AiohttpTransport against a real aiohttp.web server on 127.0.0.1 and with aioresponses."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge


async def _echo(request: web.Request) -> web.Response:
    payload = {
        "method": request.method,
        "path": request.path_qs,
        "headers": dict(request.headers),
        "body": (await request.read()).decode(),
    }
    return web.json_response(payload, status=201, headers={"X-Echo": "yes"})


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return web.Response(text="late")


async def _html(request: web.Request) -> web.Response:
    return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/html", _html)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sends_method_headers_body_and_returns_the_whole_response(echo_url: str) -> None:
    transport = ec.AiohttpTransport()
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
    assert response.header("x-echo") == "yes"
    echoed = json.loads(response.body)
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo?x=1"
    assert echoed["headers"]["Authorization"] == "Basic abc"
    assert echoed["body"] == '{"a":1}'


async def test_non_2xx_is_returned_not_raised(echo_url: str) -> None:
    transport = ec.AiohttpTransport()
    try:
        response = await transport.send(ec.Request(method="GET", url=f"{echo_url}/html"))
    finally:
        await transport.aclose()
    assert response.status == 502
    assert response.body == b"<html>Bad Gateway</html>"


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


async def test_refused_connection_is_connect_error() -> None:
    transport = ec.AiohttpTransport()
    try:
        with pytest.raises(ec.ConnectError, match=r"cannot connect to 127\.0\.0\.1"):
            await transport.send(
                ec.Request(method="POST", url=f"http://127.0.0.1:{_closed_port()}/customers")
            )
    finally:
        await transport.aclose()


async def test_slow_server_is_a_timeout(echo_url: str) -> None:
    transport = ec.AiohttpTransport(timeout=0.2)
    try:
        with pytest.raises(ec.APITimeoutError):
            await transport.send(ec.Request(method="GET", url=f"{echo_url}/slow?s=30"))
    finally:
        await transport.aclose()


async def test_a_shared_session_is_used_and_left_open(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        transport = ec.AiohttpTransport(session)
        response = await transport.send(ec.Request(method="GET", url=f"{echo_url}/echo"))
        assert response.status == 201
        await transport.aclose()
        assert not session.closed


async def test_closed_transport_refuses_to_send() -> None:
    transport = ec.AiohttpTransport()
    await transport.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(ec.Request(method="GET", url="https://api.ecomcharge.com/customers"))


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
            with pytest.raises(ec.ServerError, match="gateway"):
                await client.customers.get(created.id)
            sent = mocked.requests[("POST", aiohttp.client.URL(URL))][0].kwargs
    assert sent["headers"]["Authorization"] == aiohttp.encode_basic_auth("361", "secret")
    assert json.loads(sent["data"]) == {"email": "customer@example.com", "ip": "127.0.0.1"}


def _customer_json(i: int) -> bytes:
    return json.dumps({"id": f"cst_{i:016x}", "email": f"u{i}@example.com", "ip": "::1"}).encode()


async def _stream_route(request: web.Request) -> web.StreamResponse:
    """GET /<kind>/customers: many customers, cut mid-body, or a body of the wrong shape."""
    kind = request.match_info["kind"]
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    if kind == "object":
        await response.write(b'{"customers": []}')
    elif kind == "stall":
        await response.write(b"[" + _customer_json(0) + b",")
        await asyncio.sleep(30)
    elif kind == "cut":
        await response.write(b"[" + _customer_json(0) + b"," + _customer_json(1)[:20])
        assert request.transport is not None
        request.transport.abort()
        return response
    else:
        await response.write(b"[" + b",".join(_customer_json(i) for i in range(5000)) + b"]")
    await response.write_eof()
    return response


@pytest.fixture
async def stream_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/{kind}/customers", _stream_route)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_stream_hands_over_the_body_in_chunks(stream_url: str) -> None:
    transport = ec.AiohttpTransport()
    try:
        url = f"{stream_url}/many/customers"
        response = await transport.stream(ec.Request(method="GET", url=url))
        assert response.status == 200
        assert response.body == b""
        assert response.chunks is not None
        pieces = [piece async for piece in response.chunks]
    finally:
        await transport.aclose()
    assert len(pieces) > 1
    assert json.loads(b"".join(pieces))[4999]["id"] == f"cst_{4999:016x}"


async def test_stream_reads_a_non_2xx_body_whole(echo_url: str) -> None:
    transport = ec.AiohttpTransport()
    try:
        response = await transport.stream(ec.Request(method="GET", url=f"{echo_url}/html"))
    finally:
        await transport.aclose()
    assert (response.status, response.body, response.chunks) == (
        502,
        b"<html>Bad Gateway</html>",
        None,
    )


async def _iterate(client: ec.Client) -> list[str]:
    return [customer.id async for customer in client.customers.iter()]


async def test_iter_over_a_cut_body_yields_the_complete_customers_then_raises(
    stream_url: str,
) -> None:
    seen: list[str] = []

    async def read_all(client: ec.Client) -> None:
        async for customer in client.customers.iter():
            seen.append(customer.id)

    async with ec.Client("361", "s", base_url=f"{stream_url}/cut") as client:
        with pytest.raises(ec.APIConnectionError):
            await read_all(client)
    assert seen == [f"cst_{0:016x}"]


async def test_iter_over_a_body_that_is_not_an_array_is_a_decode_error(stream_url: str) -> None:
    async with ec.Client("361", "s", base_url=f"{stream_url}/object") as client:
        with pytest.raises(ec.DecodeError, match="expected a JSON array"):
            await _iterate(client)


async def test_leaving_iter_early_gives_the_connection_back(stream_url: str) -> None:
    transport = ec.AiohttpTransport(limit=1)
    async with ec.Client("361", "s", base_url=f"{stream_url}/many", transport=transport) as client:
        for _ in range(3):
            async with contextlib.aclosing(client.customers.iter()) as customers:
                async for customer in customers:
                    assert customer.id == f"cst_{0:016x}"
                    break
        async with asyncio.timeout(5):  # with one connection, a leak would hang here
            assert len(await _iterate(client)) == 5000


async def test_a_stalled_stream_times_out_after_the_complete_customers(stream_url: str) -> None:
    seen: list[str] = []

    async def read_all(client: ec.Client) -> None:
        async for customer in client.customers.iter():
            seen.append(customer.id)

    async with ec.Client("361", "s", base_url=f"{stream_url}/stall", timeout=0.2) as client:
        with pytest.raises(ec.APITimeoutError, match=r"no data for 0\.2 s while streaming"):
            await read_all(client)
    assert seen == [f"cst_{0:016x}"]


async def test_iter_without_a_timeout(stream_url: str) -> None:
    async with ec.Client("361", "s", base_url=f"{stream_url}/many", timeout=None) as client:
        assert len(await _iterate(client)) == 5000


# -- hardening: the body cap and TLS (docs/guides/security.md) ----------------------------

CAP = 1024 * 1024
# 8 MiB of JSON that gzip squeezes into a few KiB: only counting after decompression sees it.
GZIP_BOMB = gzip.compress(b"[" + b" " * (8 * CAP) + b"]", compresslevel=1)


async def _oversized(request: web.Request) -> web.StreamResponse:
    """GET /<kind>/customers: an answer larger than CAP, in every way a server can send one."""
    kind = request.match_info["kind"]
    if kind == "announced":  # Content-Length says it all; the body itself never comes
        response = web.StreamResponse(headers={"Content-Length": str(10**9)})
        await response.prepare(request)
        await response.write(b"[")
        await asyncio.sleep(30)
        return response
    if kind == "endless":  # chunked, no length, no end
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b"[")
            while True:
                await response.write(b" " * 65536)
        return response
    if kind == "gzip":
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=GZIP_BOMB, headers=headers)
    if kind == "error":
        return web.Response(status=502, body=b"<html>" + b"x" * 2 * CAP, content_type="text/html")
    return web.Response(body=b"[]", content_type="application/json")


@pytest.fixture
async def oversized_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/{kind}/customers", _oversized)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("announced", r"Content-Length is 1000000000"),
        ("endless", r"more than 1048576 bytes arrived"),
        ("gzip", r"more than 1048576 bytes arrived"),
    ],
)
async def test_a_2xx_body_over_the_cap_is_a_decode_error_and_frees_the_connection(
    oversized_url: str, kind: str, detail: str
) -> None:
    # timeout=5: a transport that waited for the announced gigabyte would time out instead.
    transport = ec.AiohttpTransport(max_body_size=CAP, limit=1, timeout=5)
    try:
        with pytest.raises(ec.DecodeError, match=f"max_body_size=1048576 bytes \\({detail}\\)"):
            await transport.send(ec.Request(method="GET", url=f"{oversized_url}/{kind}/customers"))
        async with asyncio.timeout(5):  # one connection only: a leaked one would hang here
            small = await transport.send(
                ec.Request(method="GET", url=f"{oversized_url}/ok/customers")
            )
        assert small.body == b"[]"
    finally:
        await transport.aclose()


async def test_an_error_body_over_the_cap_is_cut_and_still_maps_to_its_status(
    oversized_url: str,
) -> None:
    transport = ec.AiohttpTransport(max_body_size=CAP, limit=1)
    async with ec.Client(
        "361", "s", base_url=f"{oversized_url}/error", transport=transport, retry=None
    ) as client:
        response = await transport.send(
            ec.Request(method="GET", url=f"{client.base_url}/customers")
        )
        assert (response.status, len(response.body)) == (502, CAP)
        with pytest.raises(ec.ServerError, match="HTTP 502; body starts '<html>xxx") as info:
            await client.customers.list()
    assert len(info.value.body) == CAP


async def test_raising_the_cap_lets_a_large_list_through(
    fake: FakeEcomCharge, server_url: str
) -> None:
    for i in range(12_000):  # about 2.8 MB of JSON
        fake.add(email=f"customer{i}@example.com", ip="127.0.0.1", city="Denver", country="US")
    small = ec.AiohttpTransport(max_body_size=CAP)
    async with ec.Client(SHOP_ID, SECRET, base_url=server_url, transport=small) as client:
        with pytest.raises(ec.DecodeError, match="max_body_size=1048576"):
            await client.customers.list()
        # iter() never holds the body whole, so the cap does not apply to it.
        assert len([c async for c in client.customers.iter()]) == 12_000
    large = ec.AiohttpTransport(max_body_size=8 * CAP)
    async with ec.Client(SHOP_ID, SECRET, base_url=server_url, transport=large) as client:
        customers = await client.customers.list()
    assert customers == fake.customers


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_body_size": 0}, ValueError, "max_body_size must be at least 1 byte"),
        ({"max_body_size": 1.5}, TypeError, "max_body_size must be an int"),
        ({"ssl": "ca.pem"}, TypeError, r"ssl.create_default_context\(cafile=...\)"),
    ],
)
def test_bad_transport_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ec.AiohttpTransport(**options)
