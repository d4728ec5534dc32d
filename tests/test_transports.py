"""One conformance suite for every transport: aiohttp, httpx and the in-memory fake.

Each scenario runs against the fake eComCharge, reached in process by
`FakeTransport` and over real HTTP on 127.0.0.1 by the two HTTP transports, and
must give the same `Response` or the same error class whatever the transport.
Scenarios only real sockets can produce (a body cut short, a non-HTTP answer,
a stalled server) run against a small aiohttp.web server on 127.0.0.1. httpx is
an optional extra: without it the suite runs over the other two transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

import ecomcharge_async as ec
from ecomcharge_async._errors import error_from_response
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import serve

SHOP_ID = "361"
SECRET = "s"
AUTH = aiohttp.encode_basic_auth(SHOP_ID, SECRET)
HTTP_KINDS = ["aiohttp", *(["httpx"] if importlib.util.find_spec("httpx") else [])]
KINDS = ["fake", *HTTP_KINDS]
LARGE_BYTES = 5 * 1024 * 1024
HTML = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


def http_transport(kind: str, **options: Any) -> ec.Transport:
    if kind == "aiohttp":
        return ec.AiohttpTransport(**options)
    return ec.HttpxTransport(**options)  # type: ignore[no-any-return]


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
    async with serve(fake) as url:
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
    assert (response.status, response.body) == (401, b'{"message": "Invalid shop_id/secret_key."}')


async def test_refused_connection_is_connect_error(rig: Rig) -> None:
    request = attrs.evolve(rig.request("POST", "/customers", NEW), url=rig.refused_url())
    with pytest.raises(ec.ConnectError):
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
    rig.fake.inject(Fault.delay(0.3))
    async with ec.Client(
        SHOP_ID, SECRET, base_url=rig.base_url, transport=rig.transport, timeout=0.05
    ) as client:
        with pytest.raises(ec.APITimeoutError):
            await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        created = await client.customers.create(ec.NewCustomer(email="b@example.com", ip="::1"))
        assert created in rig.fake.customers


async def test_the_client_decodes_the_same_through_every_transport(rig: Rig) -> None:
    async with ec.Client(SHOP_ID, SECRET, base_url=rig.base_url, transport=rig.transport) as client:
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert await client.customers.list() == [created] == rig.fake.customers
        with pytest.raises(ec.ValidationError) as info:
            await client.customers.create(ec.NewCustomer(email="a@example.com", ip="nope"))
    assert info.value.errors == {"ip": ["address is invalid"]}


# -- scenarios only a real socket produces: a small aiohttp.web server on 127.0.0.1 --------

RELEASE = web.AppKey("release", asyncio.Event)
CHUNKED_BODY = hashlib.shake_256(b"ecomcharge").digest(LARGE_BYTES)


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


@pytest.fixture
async def scenario_url() -> AsyncIterator[str]:
    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/stall", _stall)
    app.router.add_get("/stall-mid-body", _stall_mid_body)
    app.router.add_post("/cut-mid-body", _cut_mid_body)
    app.router.add_post("/not-http", _not_http)
    app.router.add_get("/chunked-large", _chunked_large)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        app[RELEASE].set()
        await runner.cleanup()


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


async def test_leaving_a_stream_early_gives_the_connection_back(
    make_transport: Callable[..., ec.Transport], fake: FakeEcomCharge
) -> None:
    fill_shop(fake, 2000)
    async with serve(fake) as url:
        transport = make_transport(limit=1)
        async with ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport) as client:
            for _ in range(3):
                async with contextlib.aclosing(client.customers.iter()) as customers:
                    async for _customer in customers:
                        break
            async with asyncio.timeout(5):  # with one connection, a leak would hang here
                assert len([c async for c in client.customers.iter()]) == 2000


async def test_a_large_chunked_body_arrives_whole(
    make_transport: Callable[..., ec.Transport], scenario_url: str
) -> None:
    transport = make_transport()
    response = await transport.send(ec.Request(method="GET", url=scenario_url + "/chunked-large"))
    assert response.status == 200
    assert len(response.body) == LARGE_BYTES
    assert response.body == CHUNKED_BODY


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
