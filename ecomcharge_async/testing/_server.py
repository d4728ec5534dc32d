"""The loopback front of the fake eComCharge: an aiohttp.web app over real HTTP."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from .._core.durations import required_seconds
from .._core.http import Request
from ._backend import MAX_BODY_BYTES, FakeEcomCharge

_FAKE_KEY = web.AppKey("fake", FakeEcomCharge)
_LATENCY_KEY = web.AppKey("latency", float)


async def _handle(http_request: web.Request) -> web.StreamResponse:
    fake = http_request.app[_FAKE_KEY]
    latency = http_request.app[_LATENCY_KEY]
    if latency:
        await asyncio.sleep(latency)
    fault = fake.take_fault()
    if fault is not None and fault.kind == "refuse":
        # Over HTTP a refusal after accept looks like a reset: close without reading.
        return _drop_connection(http_request)
    if fault is not None and fault.kind == "delay":
        await asyncio.sleep(fault.seconds)
    if fault is not None and fault.kind == "status":
        return web.Response(
            status=fault.status_code, body=fault.body, headers=fault.response_headers()
        )
    body = await http_request.content.read(MAX_BODY_BYTES + 1)
    request = Request(
        method=http_request.method,
        url=str(http_request.rel_url),
        headers=dict(http_request.headers),
        body=body,
    )
    if fault is None and fake.is_list_request(request):
        return await _stream_list(fake, http_request)
    response = fake.handle(request)
    if fault is not None and fault.kind == "drop":
        return _drop_connection(http_request)
    return web.Response(status=response.status, body=response.body, headers=response.headers)


async def _stream_list(fake: FakeEcomCharge, http_request: web.Request) -> web.StreamResponse:
    """GET /customers written piece by piece, so a huge shop never sits in one buffer."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(http_request)
    try:
        for piece in fake.list_chunks():
            await response.write(piece)
        await response.write_eof()
    except ConnectionError:
        pass  # the client stopped reading (it left `iter()` early): nothing to report
    return response


def _drop_connection(http_request: web.Request) -> web.Response:
    """Abort the TCP connection; the response returned is never written."""
    transport = http_request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=500)


def create_app(fake: FakeEcomCharge, *, latency: float = 0.0) -> web.Application:
    """An aiohttp.web application that serves `fake` over HTTP.

    `latency` (seconds) delays every request, as a distant API would.
    """
    latency = required_seconds("latency", latency, zero_ok=True)
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
    app[_FAKE_KEY] = fake
    app[_LATENCY_KEY] = latency
    # Every path reaches the fake, which answers in JSON: `.*` would miss a path
    # holding a newline (`/customers/%0A`), left to aiohttp's plain-text 404.
    app.router.add_route("*", r"/{tail:[\s\S]*}", _handle)
    return app


@asynccontextmanager
async def serve(
    fake: FakeEcomCharge, host: str = "127.0.0.1", port: int = 0, *, latency: float = 0.0
) -> AsyncIterator[str]:
    """Serve `fake` on `host:port` (0: a free port) and yield its base URL."""
    async with run_app(create_app(fake, latency=latency), host, port) as url:
        yield url


@asynccontextmanager
async def run_app(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 1.0,
) -> AsyncIterator[str]:
    """Run any aiohttp.web `app` on `host:port` (0: a free port); yield its base URL.

    With `ssl_context` it serves HTTPS. Leaving the block stops the server,
    giving handlers still running `shutdown_timeout` seconds to finish.
    """
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        scheme = "http" if ssl_context is None else "https"
        yield f"{scheme}://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
