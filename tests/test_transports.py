"""One conformance suite for every transport: aiohttp, httpx and the in-memory fake.

Each scenario runs against the fake eComCharge, reached in process by
`FakeTransport` and over real HTTP on 127.0.0.1 by the two HTTP transports, and
must give the same `Response` or the same error class whatever the transport.
Scenarios only real sockets can produce (a body cut short, a non-HTTP answer,
a stalled server, a body over the size cap) run against a small aiohttp.web
server on 127.0.0.1, as do the promises of docs/guides/security.md that only an
HTTP transport can keep (the body cap, the event-loop binding). httpx is an
optional extra: without it the suite runs over the other two transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import importlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from conftest import HTTP_KINDS, arrived, http_transport

import ecomcharge_async as ec
from ecomcharge_async._core.errors import error_from_response
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import create_app, run_app, serve

SHOP_ID = "361"
SECRET = "s"
AUTH = aiohttp.encode_basic_auth(SHOP_ID, SECRET)
KINDS = ["fake", *HTTP_KINDS]
LARGE_BYTES = 5 * 1024 * 1024
PIECES = [b"a" * 10, b"b" * 10, b"c" * 10]
HTML = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.define
class Rig:
    """One transport and the fake it reaches, with helpers to build requests."""

    kind: str
    fake: FakeEcomCharge
    transport: ec.Transport
    base_url: str

    def request(self, method: str, path: str, payload: Any = None, **headers: str) -> ec.Request:
        body = b"" if payload is None else json.dumps(payload).encode()
        all_headers = {"Authorization": AUTH, "Accept": "application/json", **headers}
        if body:
            all_headers["Content-Type"] = "application/json"
        return ec.Request(method=method, url=self.base_url + path, headers=all_headers, body=body)

    def refused_url(self) -> str:
        """A URL whose connection is refused: a closed port, or the fake's refusal."""
        if self.kind == "fake":
            self.fake.inject(Fault.refuse())
            return self.base_url
        return f"http://127.0.0.1:{closed_port()}"


@pytest.fixture
def fake() -> FakeEcomCharge:
    return FakeEcomCharge(shop_id=SHOP_ID, secret_key=SECRET, seed=3)


@pytest.fixture(params=KINDS)
async def rig(request: pytest.FixtureRequest, fake: FakeEcomCharge) -> AsyncIterator[Rig]:
    kind: str = request.param
    if kind == "fake":
        transport = fake.transport()
        yield Rig(kind, fake, transport, "https://api.ecomcharge.com")
        await transport.aclose()
        return
    # shutdown_timeout: a delayed answer still pending at the end is not waited for.
    async with run_app(create_app(fake), shutdown_timeout=0.1) as url:
        transport = http_transport(kind)
        try:
            yield Rig(kind, fake, transport, url)
        finally:
            await transport.aclose()


NEW = {"email": "customer@example.com", "ip": "127.0.0.1", "country": "US", "state": "CO"}


async def test_create_get_and_list_succeed(rig: Rig) -> None:
    created = await rig.transport.send(rig.request("POST", "/customers", NEW))
    assert created.status == 201
    assert created.header("content-type") == "application/json"
    record = json.loads(created.body)
    assert record["email"] == NEW["email"]
    got = await rig.transport.send(rig.request("GET", f"/customers/{record['id']}"))
    assert (got.status, json.loads(got.body)) == (200, record)
    listed = await rig.transport.send(rig.request("GET", "/customers"))
    assert (listed.status, json.loads(listed.body)) == (200, [record])


ERROR_ANSWERS = [
    pytest.param(
        None,
        ("POST", "/customers", {"email": "customer@example.com"}),
        422,
        b'{"message": "Ip address is invalid. Ip can\'t be blank", '
        b'"errors": {"ip": ["address is invalid", "can\'t be blank"]}}',
        ec.ValidationError,
        id="422-validation",
    ),
    pytest.param(
        None,
        ("GET", "/customers/cst_0000000000000000", None),
        404,
        b'{"message": "Customer not found"}',
        ec.NotFoundError,
        id="404-json",
    ),
    pytest.param(
        Fault.status(404, body=b"<html>Not Found</html>"),
        ("GET", "/customers/cst_1", None),
        404,
        b"<html>Not Found</html>",
        ec.NotFoundError,
        id="404-html",
    ),
    pytest.param(
        Fault.status(429, retry_after=7, body=b'{"message": "slow down"}'),
        ("POST", "/customers", NEW),
        429,
        b'{"message": "slow down"}',
        ec.RateLimitError,
        id="429-retry-after",
    ),
    pytest.param(
        Fault.status(500, body=b'{"message": "boom"}'),
        ("POST", "/customers", NEW),
        500,
        b'{"message": "boom"}',
        ec.ServerError,
        id="500-json",
    ),
    pytest.param(
        Fault.status(502, body=HTML),
        ("GET", "/customers", None),
        502,
        HTML,
        ec.ServerError,
        id="502-html",
    ),
    pytest.param(
        Fault.status(503), ("GET", "/customers", None), 503, b"", ec.ServerError, id="503-empty"
    ),
]


@pytest.mark.parametrize(("fault", "call", "status", "body", "error"), ERROR_ANSWERS)
async def test_error_answers_are_returned_whole_not_raised(
    rig: Rig,
    fault: Fault | None,
    call: tuple[str, str, Any],
    status: int,
    body: bytes,
    error: type[ec.APIError],
) -> None:
    rig.fake.inject(fault)
    response = await rig.transport.send(rig.request(*call))
    assert (response.status, response.body) == (status, body)
    if fault is not None:
        assert response.header("Content-Type") == fault.response_headers()["Content-Type"]
        assert response.header("Retry-After") == fault.retry_after
    mapped = error_from_response(response)
    assert type(mapped) is error
    assert mapped.status == status
    assert rig.fake.customers == []


async def test_wrong_credentials_are_a_401_answer(rig: Rig) -> None:
    request = rig.request("GET", "/customers", Authorization=aiohttp.encode_basic_auth("361", "x"))
    response = await rig.transport.send(request)
    assert response.status == 401
    assert json.loads(response.body)["error"]["code"] == "unauthorized"


async def test_refused_connection_is_connect_error(rig: Rig) -> None:
    request = attrs.evolve(rig.request("POST", "/customers", NEW), url=rig.refused_url())
    says = "refused" if rig.kind == "fake" else r"cannot connect to 127\.0\.0\.1:\d+: "
    with pytest.raises(ec.ConnectError, match=says):
        await rig.transport.send(request)
    assert rig.fake.customers == []


async def test_dropped_connection_after_the_create_landed_is_not_connect_error(rig: Rig) -> None:
    rig.fake.inject(Fault.drop())
    with pytest.raises(ec.APIConnectionError) as info:
        await rig.transport.send(rig.request("POST", "/customers", NEW))
    assert not isinstance(info.value, ec.ConnectError)
    assert len(rig.fake.customers) == 1


def fill_shop(fake: FakeEcomCharge, count: int) -> None:
    for i in range(count):
        fake.add(
            email=f"customer{i}@example.com",
            ip="127.0.0.1",
            first_name="Johnathan",
            last_name="Doe-Smithson",
            address=f"{i} Long Street Name, Building B",
            city="Denver",
            country="US",
            zip="92006",
            state="CO",
            phone="+1-555-555-5555",
        )


async def test_a_large_body_arrives_whole(rig: Rig) -> None:
    fill_shop(rig.fake, LARGE_BYTES // 250 + 1)
    request = rig.request("GET", "/customers")
    expected = rig.fake.handle(request).body
    assert len(expected) >= LARGE_BYTES
    response = await rig.transport.send(request)
    assert response.status == 200
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(expected).digest()


async def test_a_large_body_streams_in_chunks(rig: Rig) -> None:
    assert isinstance(rig.transport, ec.StreamingTransport)
    fill_shop(rig.fake, LARGE_BYTES // 250 + 1)
    request = rig.request("GET", "/customers")
    expected = rig.fake.handle(request).body
    response = await rig.transport.stream(request)
    assert (response.status, response.body) == (200, b"")
    assert response.chunks is not None
    pieces = [piece async for piece in response.chunks]
    assert len(pieces) > 1
    assert hashlib.sha256(b"".join(pieces)).digest() == hashlib.sha256(expected).digest()


async def test_a_streamed_error_answer_is_read_whole(rig: Rig) -> None:
    assert isinstance(rig.transport, ec.StreamingTransport)
    rig.fake.inject(Fault.status(502, body=HTML))
    response = await rig.transport.stream(rig.request("GET", "/customers"))
    assert (response.status, response.body, response.chunks) == (502, HTML, None)


async def test_a_stream_dropped_before_the_answer_is_api_connection_error(rig: Rig) -> None:
    assert isinstance(rig.transport, ec.StreamingTransport)
    # aiohttp itself resends an idempotent GET once on a reset connection: drop both.
    rig.fake.inject(Fault.drop(), Fault.drop())
    with pytest.raises(ec.APIConnectionError) as info:
        await rig.transport.stream(rig.request("GET", "/customers"))
    assert not isinstance(info.value, ec.ConnectError)


async def test_iter_and_list_agree_through_every_transport(rig: Rig) -> None:
    fill_shop(rig.fake, 300)
    async with ec.Client(SHOP_ID, SECRET, base_url=rig.base_url, transport=rig.transport) as client:
        listed = await client.customers.list()
        streamed = [customer async for customer in client.customers.iter()]
    assert streamed == listed == rig.fake.customers


async def test_client_timeout_cuts_an_attempt_and_the_transport_stays_usable(rig: Rig) -> None:
    rig.fake.inject(Fault.delay(60))  # an answer that comes long after the test
    async with ec.Client(
        SHOP_ID, SECRET, base_url=rig.base_url, transport=rig.transport, timeout=0.05
    ) as client:
        with pytest.raises(ec.APITimeoutError):
            await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        # The next call goes through the same transport, with no timeout to race. Under
        # load the cut attempt may not even have reached the server: drop its fault.
        rig.fake.faults.clear()
        created = await rig.transport.send(rig.request("POST", "/customers", NEW))
        assert created.status == 201
        assert json.loads(created.body)["email"] == NEW["email"]


async def test_the_client_decodes_the_same_through_every_transport(rig: Rig) -> None:
    async with ec.Client(SHOP_ID, SECRET, base_url=rig.base_url, transport=rig.transport) as client:
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert await client.customers.list() == [created] == rig.fake.customers
        with pytest.raises(ec.ValidationError) as info:
            await client.customers.create(ec.NewCustomer(email="a@example.com", ip="nope"))
    assert info.value.errors == {"ip": ["address is invalid"]}


# Records the documented create cannot make but a real shop holds (customers made with a
# subscription, older records, fields the API added later): read, never refused.
ODD_RECORDS: list[dict[str, Any]] = [
    {"id": "cst_sub_1", "first_name": "Ann", "zip": 92006},
    {"id": "cst_sub_2", "email": None, "ip": None, "phone": 15551234567, "city": None},
    {"id": "cst_old_3", "email": "c@example.com", "ip": "::1", "zip": 1.5, "plan": {"x": [1]}},
]
ODD_CUSTOMERS = [
    ec.Customer(id="cst_sub_1", first_name="Ann", zip="92006"),
    ec.Customer(id="cst_sub_2", phone="15551234567"),
    ec.Customer(id="cst_old_3", email="c@example.com", ip="::1", zip="1.5"),
]


async def test_a_shop_with_odd_records_decodes_whole_through_every_transport(rig: Rig) -> None:
    fill_shop(rig.fake, 2)
    for record in ODD_RECORDS:
        rig.fake.add_record(record)
    fill_shop(rig.fake, 2)
    async with ec.Client(SHOP_ID, SECRET, base_url=rig.base_url, transport=rig.transport) as client:
        listed = await client.customers.list()
        streamed = [customer async for customer in client.customers.iter()]
        got = [await client.customers.get(customer.id) for customer in ODD_CUSTOMERS]
    assert listed == streamed == rig.fake.customers
    assert len(listed) == 7
    assert listed[2:5] == ODD_CUSTOMERS == got


# -- closing: promise 3 of docs/guides/security.md -----------------------------------------

IN_FLIGHT = (
    "{method} /customers: the transport was closed while the request was in flight "
    "(it may have reached the server)"
)


async def test_a_closed_transport_refuses_to_send(rig: Rig) -> None:
    await rig.transport.aclose()
    with pytest.raises(RuntimeError, match=r"^this \w+Transport is closed$"):
        await rig.transport.send(rig.request("GET", "/customers"))
    assert rig.fake.request_count == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_closing_ends_a_call_in_flight_at_once_with_a_clear_error(
    rig: Rig, method: str
) -> None:
    rig.fake.inject(Fault.delay(60))  # an answer that would come long after the test
    payload = NEW if method == "POST" else None
    call = asyncio.create_task(rig.transport.send(rig.request(method, "/customers", payload)))
    await arrived(rig.fake)
    await rig.transport.aclose()
    async with asyncio.timeout(5):  # a transport that waited for the answer would hang here
        with pytest.raises(RuntimeError) as info:
            await call
    assert str(info.value) == IN_FLIGHT.format(method=method)


SharedGet = Callable[[str], Awaitable[int]]


@contextlib.asynccontextmanager
async def _over_a_shared_pool(kind: str) -> AsyncIterator[tuple[ec.Transport, SharedGet, Any]]:
    """A transport over the app's own session or client, a GET of the app's own through
    that pool (its status), and the pool."""
    headers = {"Authorization": AUTH}
    if kind == "aiohttp":
        async with aiohttp.ClientSession() as session:

            async def get(url: str) -> int:
                async with session.get(url, headers=headers) as resp:
                    return resp.status

            yield ec.AiohttpTransport(session), get, session
        return
    import httpx

    async with httpx.AsyncClient() as client:

        async def get_x(url: str) -> int:
            return (await client.get(url, headers=headers)).status_code

        yield ec.HttpxTransport(client), get_x, client


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_closing_over_a_shared_pool_ends_only_this_transport_s_calls(
    kind: str, fake: FakeEcomCharge
) -> None:
    """The app's session or client stays open for its other users; our calls end."""
    async with (
        run_app(create_app(fake), shutdown_timeout=0.1) as url,
        _over_a_shared_pool(kind) as (transport, get, pool),
    ):
        customers = f"{url}/customers"
        request = ec.Request(method="GET", url=customers, headers={"Authorization": AUTH})
        fake.inject(Fault.delay(60), Fault.delay(0.2))
        ours = asyncio.create_task(transport.send(request))
        await arrived(fake)
        others = asyncio.create_task(get(customers))
        await arrived(fake, 2)
        await transport.aclose()
        async with asyncio.timeout(5):
            with pytest.raises(RuntimeError) as info:
                await ours
            assert str(info.value) == IN_FLIGHT.format(method="GET")
            assert await others == 200  # the app's own call finishes normally
        assert not (pool.closed if kind == "aiohttp" else pool.is_closed)
        assert await get(customers) == 200


# -- scenarios only a real socket produces: a small aiohttp.web server on 127.0.0.1 --------

RELEASE = web.AppKey("release", asyncio.Event)
CHUNKED_BODY = hashlib.shake_256(b"ecomcharge").digest(LARGE_BYTES)
CAP = 1024 * 1024
# 8 MiB of JSON that gzip squeezes into a few KiB: only counting after decompression sees it.
GZIP_BOMB = gzip.compress(b"[" + b" " * (8 * CAP) + b"]", compresslevel=1)


async def _stall(request: web.Request) -> web.Response:
    """Never answers until the test is over."""
    await request.app[RELEASE].wait()
    return web.Response(text="too late")


async def _stall_mid_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"x" * 10)
    await request.app[RELEASE].wait()
    return response


async def _cut_mid_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"x" * 10)
    assert request.transport is not None
    request.transport.abort()
    return response


async def _pieces(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for piece in PIECES:
        await response.write(piece)
    await response.write_eof()
    return response


async def _not_http(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    request.transport.close()
    return web.Response()


async def _chunked_large(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(CHUNKED_BODY), 65_537):
        await response.write(CHUNKED_BODY[start : start + 65_537])
    await response.write_eof()
    return response


def _customer_json(i: int) -> bytes:
    return json.dumps({"id": f"cst_{i:016x}", "email": f"u{i}@example.com", "ip": "::1"}).encode()


async def _customers(request: web.Request) -> web.StreamResponse:
    """GET /iter/<kind>/customers: many customers, cut mid-body, stalled, or the wrong shape."""
    kind = request.match_info["kind"]
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    if kind == "object":
        await response.write(b'{"customers": []}')
    elif kind == "stall":
        await response.write(b"[" + _customer_json(0) + b",")
        await request.app[RELEASE].wait()
    elif kind == "cut":
        await response.write(b"[" + _customer_json(0) + b"," + _customer_json(1)[:20])
        assert request.transport is not None
        request.transport.abort()
        return response
    else:
        await response.write(b"[" + b",".join(_customer_json(i) for i in range(5000)) + b"]")
    await response.write_eof()
    return response


async def _oversized(request: web.Request) -> web.StreamResponse:
    """GET /big/<kind>/customers: an answer over CAP, in every way a server can send one."""
    kind = request.match_info["kind"]
    if kind == "announced":  # Content-Length says it all; the body itself never comes
        response = web.StreamResponse(headers={"Content-Length": str(10**9)})
        await response.prepare(request)
        await response.write(b"[")
        await request.app[RELEASE].wait()
        return response
    if kind == "endless":  # chunked, no length, no end in sight
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b"[")
            # 64 x CAP at most: a client that never stops reading fails the test, not the machine.
            for _ in range(64 * CAP // 65536):
                await response.write(b" " * 65536)
        return response
    if kind == "gzip":
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=GZIP_BOMB, headers=headers)
    if kind == "error":
        return web.Response(status=502, body=b"<html>" + b"x" * 2 * CAP, content_type="text/html")
    return web.Response(body=b"[]", content_type="application/json")


async def _small(request: web.Request) -> web.Response:
    """GET /small/<status>: 300 bytes with that status, sent at once (one packet)."""
    return web.Response(status=int(request.match_info["status"]), body=b"[" + b" " * 298 + b"]")


@pytest.fixture
async def scenario_url() -> AsyncIterator[str]:
    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/stall", _stall)
    app.router.add_get("/stall-mid-body", _stall_mid_body)
    app.router.add_post("/cut-mid-body", _cut_mid_body)
    app.router.add_post("/not-http", _not_http)
    app.router.add_get("/chunked-large", _chunked_large)
    app.router.add_get("/pieces", _pieces)
    app.router.add_get("/iter/{kind}/customers", _customers)
    app.router.add_get("/big/{kind}/customers", _oversized)
    app.router.add_get("/small/{status}", _small)
    async with run_app(app, shutdown_timeout=0.1) as url:
        try:
            yield url
        finally:
            app[RELEASE].set()


@pytest.fixture(params=HTTP_KINDS)
async def make_transport(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[..., ec.Transport]]:
    made: list[ec.Transport] = []

    def make(**options: Any) -> ec.Transport:
        made.append(http_transport(request.param, **options))
        return made[-1]

    yield make
    for transport in made:
        await transport.aclose()


async def test_sends_method_headers_body_and_returns_the_whole_response(
    make_transport: Callable[..., ec.Transport], echo_url: str
) -> None:
    response = await make_transport().send(
        ec.Request(
            method="POST",
            url=f"{echo_url}/echo?x=1",
            headers={"Authorization": "Basic abc", "Content-Type": "application/json"},
            body=b'{"a":1}',
        )
    )
    assert response.status == 201
    assert response.headers["X-Echo"] == "yes"  # the server's spelling is kept
    echoed = json.loads(response.body)
    assert (echoed["method"], echoed["path"], echoed["body"]) == ("POST", "/echo?x=1", '{"a":1}')
    assert echoed["headers"]["Authorization"] == "Basic abc"


@pytest.mark.parametrize("path", ["/stall", "/stall-mid-body"])
async def test_the_transport_timeout_is_api_timeout_error(
    make_transport: Callable[..., ec.Transport], scenario_url: str, path: str
) -> None:
    transport = make_transport(timeout=0.1)
    with pytest.raises(ec.APITimeoutError):
        await transport.send(ec.Request(method="GET", url=scenario_url + path))


@pytest.mark.parametrize("path", ["/cut-mid-body", "/not-http"])
async def test_a_broken_answer_is_api_connection_error(
    make_transport: Callable[..., ec.Transport], scenario_url: str, path: str
) -> None:
    transport = make_transport()
    with pytest.raises(ec.APIConnectionError) as info:
        await transport.send(ec.Request(method="POST", url=scenario_url + path, body=b"{}"))
    assert not isinstance(info.value, ec.ConnectError)


@pytest.mark.parametrize(
    ("path", "options", "error"),
    [
        ("/cut-mid-body", {}, ec.APIConnectionError),
        ("/stall-mid-body", {"timeout": 0.1}, ec.APITimeoutError),
    ],
)
async def test_a_stream_broken_mid_body_raises_while_reading(
    make_transport: Callable[..., ec.Transport],
    scenario_url: str,
    path: str,
    options: dict[str, float],
    error: type[ec.APIConnectionError],
) -> None:
    transport = make_transport(**options)
    assert isinstance(transport, ec.StreamingTransport)
    method = "POST" if path == "/cut-mid-body" else "GET"
    response = await transport.stream(ec.Request(method=method, url=scenario_url + path))
    assert response.chunks is not None
    with pytest.raises(error):
        async for _ in response.chunks:
            pass


async def test_closing_ends_a_stream_being_read(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    transport = make_transport()
    assert isinstance(transport, ec.StreamingTransport)
    response = await transport.stream(
        ec.Request(method="GET", url=scenario_url + "/stall-mid-body")
    )
    assert response.chunks is not None
    pieces = response.chunks
    assert await anext(pieces) == b"x" * 10
    reader = asyncio.create_task(anext(pieces))
    for _ in range(20):  # loop steps, not time: the reader runs until it waits for the rest
        await asyncio.sleep(0)
    await transport.aclose()
    async with asyncio.timeout(5):
        with pytest.raises(RuntimeError, match="closed while the request was in flight"):
            await reader


async def test_leaving_a_stream_early_gives_the_connection_back(
    make_transport: Callable[..., ec.Transport], fake: FakeEcomCharge
) -> None:
    fill_shop(fake, 2000)
    async with serve(fake) as url:
        transport = make_transport(limit=1, pool_timeout=2)
        async with ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport) as client:
            for _ in range(3):
                async with contextlib.aclosing(client.customers.iter()) as customers:
                    async for _customer in customers:
                        break
            # With one connection, a leaked one would end this in PoolTimeoutError.
            assert len([c async for c in client.customers.iter()]) == 2000


STREAM_ENDINGS = [
    "closed unstarted",
    "closed mid-way",
    "closed twice",
    "exhausted",
    "broken",
    "dropped unstarted",
    "dropped mid-way",
]


async def _end_stream(transport: ec.StreamingTransport, url: str, ending: str) -> None:
    """Opens a stream and ends it as `ending` says; then nothing refers to it any more."""
    path = {"exhausted": "/pieces", "broken": "/cut-mid-body"}.get(ending, "/stall-mid-body")
    method = "POST" if ending == "broken" else "GET"
    response = await transport.stream(ec.Request(method=method, url=url + path))
    chunks = response.chunks
    assert chunks is not None
    if ending.endswith("mid-way"):
        assert await anext(chunks) == b"x" * 10
    if ending == "exhausted":
        assert b"".join([chunk async for chunk in chunks]) == b"".join(PIECES)
    elif ending == "broken":
        with pytest.raises(ec.APIConnectionError):
            async for _ in chunks:
                pass
    elif ending.startswith("closed"):
        async with contextlib.aclosing(chunks):  # type: ignore[type-var]
            pass
        if ending == "closed twice":
            await chunks.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("ending", STREAM_ENDINGS)
async def test_a_stream_gives_its_connection_back_however_it_ends(
    make_transport: Callable[..., ec.Transport], scenario_url: str, ending: str
) -> None:
    transport = make_transport(limit=1, pool_timeout=2)
    assert isinstance(transport, ec.StreamingTransport)
    await _end_stream(transport, scenario_url, ending)
    # One connection only: a stream that kept it makes this wait, then PoolTimeoutError.
    again = await transport.stream(ec.Request(method="GET", url=scenario_url + "/pieces"))
    assert again.chunks is not None
    assert b"".join([chunk async for chunk in again.chunks]) == b"".join(PIECES)


@pytest.mark.parametrize("ending", ["closed twice", "exhausted", "broken"])
async def test_a_stream_gives_its_connection_back_only_once(
    make_transport: Callable[..., ec.Transport], scenario_url: str, ending: str
) -> None:
    # timeout=2: a request queued inside the HTTP library (a slot given twice) fails fast too.
    transport = make_transport(limit=1, pool_timeout=0.2, timeout=2)
    assert isinstance(transport, ec.StreamingTransport)
    await _end_stream(transport, scenario_url, ending)
    held = await transport.stream(ec.Request(method="GET", url=scenario_url + "/stall-mid-body"))
    assert held.chunks is not None
    # Had the first stream freed its slot twice, the pool would now have two.
    with pytest.raises(ec.PoolTimeoutError):
        await transport.send(ec.Request(method="GET", url=scenario_url + "/pieces"))
    await held.chunks.aclose()  # type: ignore[attr-defined]


async def test_a_large_chunked_body_arrives_whole(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    transport = make_transport()
    response = await transport.send(ec.Request(method="GET", url=scenario_url + "/chunked-large"))
    assert response.status == 200
    assert len(response.body) == LARGE_BYTES
    assert response.body == CHUNKED_BODY


async def _iterate(client: ec.Client, seen: list[str]) -> None:
    async for customer in client.customers.iter():
        seen.append(customer.id)


async def test_iter_over_a_cut_body_yields_the_complete_customers_then_raises(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    seen: list[str] = []
    base_url = f"{scenario_url}/iter/cut"
    async with ec.Client(SHOP_ID, SECRET, base_url=base_url, transport=make_transport()) as client:
        with pytest.raises(ec.APIConnectionError):
            await _iterate(client, seen)
    assert seen == [f"cst_{0:016x}"]


async def test_iter_over_a_body_that_is_not_an_array_is_a_decode_error(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    base_url = f"{scenario_url}/iter/object"
    async with ec.Client(SHOP_ID, SECRET, base_url=base_url, transport=make_transport()) as client:
        with pytest.raises(ec.DecodeError, match="expected a JSON array"):
            await _iterate(client, [])


@pytest.mark.parametrize(
    ("transport_timeout", "client_timeout"),
    [
        (30.0, 2.0),  # the client's per-chunk bound ends the stall
        (2.0, None),  # no client timeout: the library's own read timer does, in the same words
    ],
)
async def test_a_stalled_stream_times_out_after_the_complete_customers(
    make_transport: Callable[..., ec.Transport],
    scenario_url: str,
    transport_timeout: float,
    client_timeout: float | None,
) -> None:
    seen: list[str] = []
    async with ec.Client(
        SHOP_ID,
        SECRET,
        base_url=f"{scenario_url}/iter/stall",
        transport=make_transport(timeout=transport_timeout),
        timeout=client_timeout,  # 2 s: ample for the first customer (sent at once), even when busy
    ) as client:
        with pytest.raises(ec.APITimeoutError, match=r"no data for 2 s while streaming"):
            await _iterate(client, seen)
    assert seen == [f"cst_{0:016x}"]


async def test_a_streamed_body_closed_unread_gives_its_connection_back_at_once(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    """With the client's per-chunk bound around it, `aclose()` still reaches the body."""
    transport = make_transport(limit=1, pool_timeout=10.0)
    async with ec.Client(
        SHOP_ID, SECRET, base_url=f"{scenario_url}/iter/many", transport=transport, timeout=30.0
    ) as client:
        kept = []  # held, so only aclose() (not the collector) can give the slot back
        for _ in range(3):  # one slot: a body left holding it would stall the next call
            kept.append(await client.send("GET", "/customers", stream=True))
            assert kept[-1].chunks is not None
            await kept[-1].chunks.aclose()
        assert len(await client.customers.list()) == 5000


async def test_iter_without_a_timeout(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    seen: list[str] = []
    async with ec.Client(
        SHOP_ID,
        SECRET,
        base_url=f"{scenario_url}/iter/many",
        transport=make_transport(),
        timeout=None,
    ) as client:
        await _iterate(client, seen)
    assert seen == [f"cst_{i:016x}" for i in range(5000)]


# -- bounded memory per response: promise 2 of docs/guides/security.md ---------------------


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("announced", r"Content-Length is 1000000000"),
        ("endless", r"more than 1048576 bytes arrived"),
        ("gzip", r"more than 1048576 bytes arrived"),
    ],
)
async def test_a_2xx_body_over_the_cap_is_a_decode_error_and_frees_the_connection(
    make_transport: Callable[..., ec.Transport], scenario_url: str, kind: str, detail: str
) -> None:
    # timeout=5: a transport that waited for the announced gigabyte would time out instead.
    transport = make_transport(max_body_size=CAP, limit=1, timeout=5)
    name = type(transport).__name__
    with pytest.raises(ec.DecodeError, match=f"max_body_size=1048576 bytes \\({detail}\\)") as info:
        await transport.send(ec.Request(method="GET", url=f"{scenario_url}/big/{kind}/customers"))
    assert info.value.status == 200
    assert f"raise {name}(max_body_size=...)" in str(info.value)
    async with asyncio.timeout(5):  # one connection only: a leaked one would hang here
        small = await transport.send(
            ec.Request(method="GET", url=f"{scenario_url}/big/ok/customers")
        )
    assert small.body == b"[]"


async def test_an_error_body_over_the_cap_is_cut_and_still_maps_to_its_status(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    transport = make_transport(max_body_size=CAP, limit=1)
    base_url = f"{scenario_url}/big/error"
    async with ec.Client(SHOP_ID, SECRET, base_url=base_url, transport=transport, retry=None) as c:
        response = await transport.send(ec.Request(method="GET", url=f"{base_url}/customers"))
        assert (response.status, len(response.body)) == (502, CAP)
        streamed = await transport.stream(ec.Request(method="GET", url=f"{base_url}/customers"))
        assert (streamed.status, streamed.body) == (502, response.body)
        with pytest.raises(ec.ServerError, match=r"HTTP 502 \(text/html body of \d+ bytes") as info:
            await c.customers.list()
    assert len(info.value.body) == CAP
    assert info.value.body.startswith(b"<html>xxx")


@pytest.mark.parametrize("status", [200, 502])
async def test_a_small_answer_that_arrived_whole_is_held_to_the_cap_too(
    make_transport: Callable[..., ec.Transport], scenario_url: str, status: int
) -> None:
    # A body already all read with the headers is taken without waiting: same cap.
    transport = make_transport(max_body_size=100, limit=1)
    request = ec.Request(method="GET", url=f"{scenario_url}/small/{status}")
    if status == 200:
        with pytest.raises(ec.DecodeError, match="max_body_size=100 bytes"):
            await transport.send(request)
    else:
        response = await transport.send(request)
        assert (response.status, response.body) == (502, b"[" + b" " * 99)
    async with asyncio.timeout(5):  # one connection only: a leaked one would hang here
        ok = await transport.send(ec.Request(method="GET", url=f"{scenario_url}/big/ok/customers"))
    assert ok.body == b"[]"


async def test_raising_the_cap_lets_a_large_list_through(
    make_transport: Callable[..., ec.Transport], fake: FakeEcomCharge
) -> None:
    for i in range(12_000):  # about 2.8 MB of JSON
        fake.add(email=f"customer{i}@example.com", ip="127.0.0.1", city="Denver", country="US")
    async with serve(fake) as url:
        small = make_transport(max_body_size=CAP)
        async with ec.Client(SHOP_ID, SECRET, base_url=url, transport=small) as client:
            with pytest.raises(ec.DecodeError, match="max_body_size=1048576"):
                await client.customers.list()
            # iter() never holds the body whole, so the cap does not apply to it.
            assert len([c async for c in client.customers.iter()]) == 12_000
        large = make_transport(max_body_size=8 * CAP)
        async with ec.Client(SHOP_ID, SECRET, base_url=url, transport=large) as client:
            customers = await client.customers.list()
    assert customers == fake.customers


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_body_size": 0}, ValueError, "max_body_size must be at least 1 byte"),
        ({"max_body_size": 1.5}, TypeError, "max_body_size must be an int"),
        ({"max_body_size": True}, TypeError, "max_body_size must be an int"),
        ({"tls": "ca.pem"}, TypeError, r"ssl.create_default_context\(cafile=...\)"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number of seconds > 0, or None"),
        ({"timeout": -1}, ValueError, "timeout must be a finite number"),
        ({"timeout": float("inf")}, ValueError, "timeout must be a finite number"),
        ({"timeout": True}, TypeError, "timeout must be a finite number"),
        ({"limit": 0}, ValueError, "limit must be at least 1"),
    ],
)
def test_bad_transport_options_fail_at_construction(
    kind: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        http_transport(kind, **options)


# -- no event-loop traps: promise 7 of docs/guides/security.md -----------------------------


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_a_client_built_outside_a_running_loop_works_inside_one(
    kind: str, fake: FakeEcomCharge
) -> None:
    with asyncio.Runner() as runner:
        server = contextlib.AsyncExitStack()
        url = runner.run(server.enter_async_context(serve(fake)))
        try:
            # No loop runs here: the pool is made on first use, in the loop that uses it.
            client = ec.Client(SHOP_ID, SECRET, base_url=url, transport=http_transport(kind))

            async def use() -> list[ec.Customer]:
                async with client:
                    await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
                    return await client.customers.list()

            assert runner.run(use()) == fake.customers != []
        finally:
            runner.run(server.aclose())


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_one_client_used_from_two_event_loops_raises_a_clear_error(
    kind: str, fake: FakeEcomCharge
) -> None:
    with asyncio.Runner() as first, asyncio.Runner() as second:
        server = contextlib.AsyncExitStack()
        url = first.run(server.enter_async_context(serve(fake)))
        client = ec.Client(SHOP_ID, SECRET, base_url=url, transport=http_transport(kind))
        assert first.run(client.customers.list()) == []

        async def from_the_second_loop() -> None:
            async with asyncio.timeout(5):  # without the check this would hang or fail obscurely
                await client.customers.list()

        wrong_loop = "belongs to the event loop it was first used in; create one Client per"
        with pytest.raises(RuntimeError, match=wrong_loop):
            second.run(from_the_second_loop())
        with pytest.raises(RuntimeError, match=wrong_loop):
            second.run(client.aclose())
        assert not client.closed
        assert first.run(client.customers.list()) == []  # still fine in its own loop
        first.run(client.aclose())  # and closed there
        assert client.closed
        first.run(server.aclose())


# -- the library each HTTP transport names for the User-Agent -----------------------------


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_each_http_transport_names_its_library_and_version(kind: str) -> None:
    library = importlib.import_module(kind)
    transport = http_transport(kind)
    assert type(transport).user_agent == transport.user_agent == f"{kind}/{library.__version__}"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", [*HTTP_KINDS, "default"])
async def test_the_user_agent_names_the_transport_really_used(kind: str, echo_url: str) -> None:
    """Sent over loopback: the library of the transport that sent it, none other."""
    transport = None if kind == "default" else http_transport(kind)
    library = importlib.import_module("aiohttp" if kind == "default" else kind)
    async with ec.Client(SHOP_ID, SECRET, base_url=echo_url, transport=transport) as client:
        echoed = await client.request("GET", "/echo")
    agent = echoed["headers"]["User-Agent"]
    assert agent.startswith("ecomcharge-async/")
    assert agent.endswith(f" {library.__name__}/{library.__version__}")
    others = {"aiohttp", "httpx"} - {library.__name__}
    assert not any(f"{other}/" in agent for other in others)


# -- httpx stays optional ------------------------------------------------------------------

# httpx made unimportable, as in an install without the `httpx` extra.
WITHOUT_HTTPX = """
import sys


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "httpx":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NotInstalled())
import ecomcharge_async as ec
import ecomcharge_async.testing.pytest_plugin

assert "HttpxTransport" in dir(ec)
try:
    ec.HttpxTransport
except ModuleNotFoundError as exc:
    print(exc)
"""


def test_the_package_imports_and_explains_itself_without_httpx() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_HTTPX],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.stdout.strip() == (
        "HttpxTransport needs httpx: pip install 'ecomcharge-async[httpx]'"
    )


def test_importing_the_package_does_not_import_httpx() -> None:
    code = "import sys, ecomcharge_async; print('httpx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
