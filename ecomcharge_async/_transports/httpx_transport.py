"""`HttpxTransport`: for apps already on httpx; the only module importing httpx.

Install with `pip install "ecomcharge-async[httpx]"`. `import ecomcharge_async`
never imports this module until `ecomcharge_async.HttpxTransport` is used.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx

from .._core.http import Request, Response, is_success
from . import proxy as _proxy
from .common import (
    DEFAULT_MAX_BODY_SIZE,
    StreamedBody,
    bound_loop,
    check_limit,
    check_max_body_size,
    check_timeout,
    check_tls,
    closed_in_flight,
)
from .httpx_body import body_bytes, read_body, response_headers
from .httpx_errors import our_error, timed_out
from .pool import Slots
from .proxy import Progress, check_proxy, redact_url


class HttpxTransport:
    """Sends requests over one `httpx.AsyncClient`, yours or its own.

    Pass the `AsyncClient` your app already has to share its connection pool,
    proxies and TLS settings. Each request is built here, not by the shared
    client, so that client's default headers, cookies, params and `auth` never
    reach eComCharge. `timeout` bounds each phase (connect, write, read) in
    seconds, as httpx does (None: no limit of its own); a request's own
    `timeout` (the client's) bounds the whole attempt until the headers are
    in. Either counts from when the request has a connection: as with
    `AiohttpTransport`, `limit` requests at a time get one, the others wait at
    most `pool_timeout` seconds, then raise `PoolTimeoutError` (not sent).
    `verify` is True (the system's CA store), an
    `ssl.SSLContext` (your own CAs) or False (never in production); `limit`
    caps concurrent connections of a client the transport creates. `proxy`
    and `trust_env` (read `HTTP(S)_PROXY`, `NO_PROXY`; off by default) are as
    `AiohttpTransport`'s, for a client the transport creates.

    As `AiohttpTransport`: `max_body_size` caps the bytes held for one body
    read whole, counted as they arrive (after decompression): a larger 2xx body
    raises `DecodeError`, a larger error body is cut at the cap; a streamed 2xx
    body has no cap. The transport belongs to the event loop of its first
    request. `aclose()` ends the calls in flight through this transport with
    `RuntimeError` and closes the client only if it created it: a shared
    `AsyncClient` stays open, its other users unaffected.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: float | None = 30.0,
        verify: _ssl.SSLContext | bool = True,
        limit: int = 100,
        pool_timeout: float | None = 30.0,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        proxy: str | None = None,
        trust_env: bool = False,
    ) -> None:
        timeout = check_timeout(timeout)
        self._proxy = check_proxy(proxy, trust_env=trust_env, shared=client is not None)
        if client is not None and proxy is not None:
            raise ValueError("proxy= applies to a client the transport creates; set it on yours")
        self._trust_env = trust_env
        # Through a proxy, each request is traced: until its own headers go out
        # (or the CONNECT is answered), a failure is the proxy's, and nothing was sent.
        self._traced = proxy is not None or trust_env
        check_limit(limit)
        self._client = client
        self._owns_client = client is None
        self._timeout = httpx.Timeout(timeout).as_dict()
        self._verify = check_tls("verify", verify)
        self._limit = limit
        self._slots = Slots(limit, check_timeout(pool_timeout, "pool_timeout"))
        self._max_body_size = check_max_body_size(max_body_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Tasks inside a call, and those of them that aclose() cancelled to end them.
        self._calls: set[asyncio.Task[Any]] = set()
        self._ended: set[asyncio.Task[Any]] = set()
        self._streams: set[httpx.Response] = set()
        self._closed = False

    #: Bounds `request.timeout` itself (see `Transport`): the client adds no timer.
    bounds_attempts = True

    def __repr__(self) -> str:
        owner = "own" if self._owns_client else "shared"
        proxy = f", proxy={redact_url(self._proxy)!r}" if self._proxy else ""
        return f"HttpxTransport(client={owner}, timeout={self._timeout['read']}{proxy})"

    def _get_client(self) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("this HttpxTransport is closed")
        self._loop = bound_loop("HttpxTransport", self._loop)
        if self._client is None:
            # trust_env=False unless asked: like AiohttpTransport, ignore proxy and
            # netrc variables by default.
            self._client = httpx.AsyncClient(
                verify=self._verify,
                limits=httpx.Limits(max_connections=self._limit),
                trust_env=self._trust_env,
                proxy=self._proxy,
            )
        return self._client

    def _request(self, request: Request, progress: Progress | None) -> httpx.Request:
        extensions: dict[str, Any] = {"timeout": self._timeout}
        if progress is not None:
            extensions["trace"] = progress
        return httpx.Request(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.body or None,
            extensions=extensions,
        )

    async def _open(
        self, client: httpx.AsyncClient, request: Request, progress: Progress | None
    ) -> httpx.Response:
        # auth=None: a shared client's own `auth` must not replace our Authorization.
        return await client.send(
            self._request(request, progress), auth=None, follow_redirects=False, stream=True
        )

    async def _read_whole(self, resp: httpx.Response, request: Request) -> Response:
        try:
            body = await read_body(resp, self._max_body_size)
        finally:
            await resp.aclose()
        if resp.status_code == _proxy.PROXY_AUTH_REQUIRED:
            raise _proxy.auth_failed(self._where(request.url), request.url)
        return Response(status=resp.status_code, headers=response_headers(resp), body=body)

    def _where(self, url: str) -> str | None:
        return _proxy.proxy_address(self._proxy, url, trust_env=self._trust_env)

    async def send(self, request: Request) -> Response:
        client = self._get_client()
        if not self._slots.take_now():
            await self._slots.wait(request)
        progress = Progress() if self._traced else None
        bound = asyncio.timeout(request.timeout)
        try:
            async with bound:
                with self._call(request, progress):
                    resp = await self._open(client, request, progress)
                    return await self._read_whole(resp, request)
        except TimeoutError as exc:
            if not bound.expired():
                raise
            where = self._where(request.url)
            raise timed_out(request.url, request.timeout, where, progress) from exc
        finally:
            self._slots.give()

    async def stream(self, request: Request) -> Response:
        """Like `send`, but a 2xx body is handed over as `Response.chunks`.

        The request's timeout bounds the wait for the headers; each chunk's
        read is bounded by the transport's own `timeout`, and its reader's.
        """
        client = self._get_client()
        if not self._slots.take_now():
            await self._slots.wait(request)
        streaming = False
        progress = Progress() if self._traced else None
        bound = asyncio.timeout(request.timeout)
        try:
            async with bound:
                with self._call(request, progress):
                    resp = await self._open(client, request, progress)
                    if not is_success(resp.status_code):
                        return await self._read_whole(resp, request)
            streaming = True  # from here the body's reader gives the slot back
        except TimeoutError as exc:
            if not bound.expired():
                raise
            where = self._where(request.url)
            raise timed_out(request.url, request.timeout, where, progress) from exc
        finally:
            if not streaming:
                self._slots.give()
        self._streams.add(resp)
        pieces = body_bytes(resp)
        streamed = StreamedBody(
            partial(self._read_chunk, pieces, request), partial(self._release, resp, pieces)
        )
        return Response(status=resp.status_code, headers=response_headers(resp), chunks=streamed)

    async def _read_chunk(self, pieces: AsyncGenerator[bytes, None], request: Request) -> bytes:
        """The next piece of a streamed body as it arrives; b"" at its end.

        Each wait for a piece is a call of its own: closing the transport ends
        it, but never the caller's task between two pieces.
        """
        with self._call(request):
            if self._closed:
                raise closed_in_flight(request)
            return await anext(pieces, b"")

    async def _release(self, resp: httpx.Response, pieces: AsyncGenerator[bytes, None]) -> None:
        """A streamed body's end: its connection, and its slot, go back to the pool."""
        self._streams.discard(resp)
        try:
            try:
                await pieces.aclose()
            finally:  # even if closing the reader failed or was cancelled
                await resp.aclose()
        except (httpx.HTTPError, httpx.StreamError, OSError):
            pass  # a connection that fails as it closes is closed: nothing more to give back
        finally:
            self._slots.give()

    @contextmanager
    def _call(self, request: Request, progress: Progress | None = None) -> Iterator[None]:
        """Registers the task for `aclose()`; raises httpx's and the OS's errors as ours."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("HttpxTransport must be used inside an asyncio task")
        self._calls.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if task in self._ended:
                self._ended.discard(task)
                if task.uncancel() == 0:  # only aclose() cancelled it, not its caller
                    raise closed_in_flight(request) from None
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
            if self._closed:
                raise closed_in_flight(request) from exc
            if isinstance(exc, httpx.StreamError):  # misuse of httpx, not a network failure
                raise
            error = our_error(exc, request.url, self._where(request.url), progress)
            raise error from _proxy.cause(error, exc)
        finally:
            self._calls.discard(task)
            if task in self._ended:  # the cancellation was absorbed inside httpx
                self._ended.discard(task)
                task.uncancel()

    async def aclose(self) -> None:
        if self._loop is not None and self._client is not None:
            self._loop = bound_loop("HttpxTransport", self._loop)
        self._closed = True
        self._slots.close()
        # Closing an AsyncClient ends a call awaiting its answer with ReadError (a
        # network failure, to a retry) and lets calls queued for a connection go
        # on; a shared one stays open anyway. So each call in flight through this
        # transport is cancelled, and `_call` turns that into the closed error.
        for task in self._calls - self._ended:
            self._ended.add(task)
            task.cancel()
        streams, self._streams = self._streams, set()
        for resp in streams:
            await resp.aclose()
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
