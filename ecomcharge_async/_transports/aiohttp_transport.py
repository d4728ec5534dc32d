"""`AiohttpTransport`: the default transport, and the only module using aiohttp's client."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from functools import partial

import aiohttp

from .._core.http import Request, Response, is_success
from . import proxy as _proxy
from .aiohttp_body import arrived_body, read_body
from .aiohttp_errors import headers_sent, our_error
from .common import (
    CHUNK_BYTES,
    DEFAULT_MAX_BODY_SIZE,
    StreamedBody,
    bound_loop,
    check_limit,
    check_max_body_size,
    check_timeout,
    check_tls,
)
from .common import closed_in_flight as _closed_in_flight
from .pool import Slots
from .proxy import Progress, check_proxy, redact_url


class AiohttpTransport:
    """Sends requests over one shared `aiohttp.ClientSession`.

    The session is created lazily on first use (so the transport can be built
    outside a running loop), or handed in by the caller; `aclose()` closes only
    a session this transport created (its default headers are sent too; its
    `raise_for_status` is ignored). The transport belongs to the event loop
    of its first request: using it from another loop raises `RuntimeError`.
    `timeout` bounds each request in seconds (None: no limit of its own); for a
    streamed body (`stream`), each wait for data.
    `ssl` is True (verify with the system's CA store), an `ssl.SSLContext`
    (your own CAs), or False (no verification: never in production).
    `connect_timeout` (seconds, None: no limit of its own) bounds opening a
    connection, so an address that never answers fails as `ConnectError` even
    when `timeout` is None.
    `limit` caps concurrent connections (the pool); a request waits for a free
    one at most `pool_timeout` seconds (None: no limit), then raises
    `PoolTimeoutError`: it was not sent. `timeout` starts once the request has
    its connection, so waiting in the pool never makes a request look as if it
    may have reached the server. (With a session of your own, its connector's
    limit should be at least `limit`, or aiohttp queues inside the attempt.)
    `proxy` ("http://user:password@host:port") sends every request through
    that HTTP proxy; `trust_env=True` reads `HTTP_PROXY`, `HTTPS_PROXY` and
    `NO_PROXY` (and `~/.netrc`) for a session the transport creates. Both
    are off by default: the environment never reroutes requests unasked.
    The proxy's password never appears in reprs, logs or errors; a failure at
    the proxy (407, refused, no tunnel in time) is a `ProxyError`.
    `max_body_size` caps the bytes held
    for one body read whole, counted as they arrive (after decompression): a
    larger 2xx body raises `DecodeError`, a larger error body is cut at the
    cap. A streamed 2xx body (`stream`) is never held whole, so it has no cap.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float | None = 30.0,
        connect_timeout: float | None = None,
        ssl: _ssl.SSLContext | bool = True,
        limit: int = 100,
        pool_timeout: float | None = 30.0,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        proxy: str | None = None,
        trust_env: bool = False,
    ) -> None:
        if session is not None and session.auth is not None:
            raise ValueError(
                "the aiohttp.ClientSession has auth= set, which would clash with the "
                "eComCharge credentials the Client sends; pass a session without auth"
            )
        self._session = session
        self._owns_session = session is None
        self._proxy = check_proxy(proxy, trust_env=trust_env, shared=session is not None)
        self._trust_env = trust_env
        # Through a proxy, a session of ours traces each request's headers going
        # out: until they do, a timeout is the proxy's, and nothing was sent.
        self._traced = session is None and (proxy is not None or trust_env)
        self._connect_timeout = check_timeout(connect_timeout, "connect_timeout")
        timeout = check_timeout(timeout)
        self._timeout = self._timeouts(timeout, stream=False)
        self._stream_timeout = self._timeouts(timeout, stream=True)
        # Per-request timeouts (`Request.timeout`), built once per value.
        self._whole: dict[float, aiohttp.ClientTimeout] = {}
        self._streamed: dict[float, aiohttp.ClientTimeout] = {}
        self._ssl = check_tls("ssl", ssl)
        self._limit = check_limit(limit)
        self._pool_timeout = check_timeout(pool_timeout, "pool_timeout")
        # One slot per connection of the pool: a request takes one before aiohttp
        # starts its timer, so aiohttp itself never queues a request for a connection.
        self._slots = Slots(limit, self._pool_timeout)
        self._max_body_size = check_max_body_size(max_body_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Bodies being read: closing the session does not wake their readers, aclose() does.
        self._reading: set[aiohttp.ClientResponse] = set()
        self._closed = False

    #: Bounds `request.timeout` itself (see `Transport`): the client adds no timer.
    bounds_attempts = True

    def __repr__(self) -> str:
        owner = "own" if self._owns_session else "shared"
        proxy = f", proxy={redact_url(self._proxy)!r}" if self._proxy else ""
        return f"AiohttpTransport(session={owner}, timeout={self._timeout.total}{proxy})"

    def _check_loop(self) -> None:
        self._loop = bound_loop("AiohttpTransport", self._loop)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this AiohttpTransport is closed")
        self._check_loop()
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._trust_env,
                trace_configs=[headers_sent()] if self._traced else None,
            )
        return self._session

    def _timeouts(self, seconds: float | None, *, stream: bool) -> aiohttp.ClientTimeout:
        connect = self._connect_timeout
        if stream:
            # A streamed body may take minutes to arrive: bound each read, not the whole.
            return aiohttp.ClientTimeout(sock_connect=connect or seconds, sock_read=seconds)
        return aiohttp.ClientTimeout(total=seconds, sock_connect=connect)

    def _limits(self, request: Request) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for `request`: its own `timeout`, else the transport's."""
        seconds = request.timeout
        if seconds is None:
            return self._stream_timeout if request.stream else self._timeout
        built = self._streamed if request.stream else self._whole
        limits = built.get(seconds)
        if limits is None:
            if len(built) >= 64:
                built.clear()  # per-call timeouts of every value: keep the cache small
            limits = built[seconds] = self._timeouts(check_timeout(seconds), stream=request.stream)
        return limits

    def _request(
        self, session: aiohttp.ClientSession, request: Request, progress: Progress | None
    ) -> Awaitable[aiohttp.ClientResponse]:
        # Not a coroutine of its own: aiohttp's awaitable is handed straight back.
        return session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body or None,
            timeout=self._limits(request),
            proxy=self._proxy,
            allow_redirects=False,
            raise_for_status=False,  # a shared session's setting must not turn 4xx into raises
            trace_request_ctx=progress,
        )

    async def _session_and_slot(self, request: Request) -> aiohttp.ClientSession:
        """The session, once this request holds a pool slot (at most `pool_timeout` s)."""
        session = self._get_session()  # closed, or another loop: say so before waiting
        if not self._slots.take_now():
            await self._slots.wait(request)
        return session

    async def send(self, request: Request) -> Response:
        session = self._get_session()
        if not self._slots.take_now():
            await self._slots.wait(request)
        progress = Progress() if self._traced else None
        # `try` rather than `with self._our_errors(...)`: the context manager's
        # objects would live as long as the call (GC work at high concurrency).
        try:
            resp = await self._request(session, request, progress)
            # Released by hand rather than `async with resp`: its enter and exit are
            # two coroutines per call, and all the exit adds is waiting for the request
            # writer. That writer is done unless the server answered before reading the
            # whole body; `release()` then cancels it and aiohttp pools the connection
            # once it stops, a loop turn or two later.
            try:
                body = arrived_body(resp, self._max_body_size)
                if body is None:
                    self._reading.add(resp)
                    body = await read_body(resp, self._max_body_size)
            finally:
                self._reading.discard(resp)
                resp.release()
            if resp.status == _proxy.PROXY_AUTH_REQUIRED:
                raise self._proxy_auth_failed(request)
            return Response(status=resp.status, headers=resp.headers, body=body)
        except asyncio.CancelledError:
            self._check_cancelled(request)
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = self._translated(exc, request, progress)
            raise error from _proxy.cause(error, exc)
        finally:
            self._slots.give()

    async def stream(self, request: Request) -> Response:
        """Like `send`, but a 2xx body is handed over as `Response.chunks`."""
        session = await self._session_and_slot(request)
        progress = Progress() if self._traced else None
        try:
            with self._our_errors(request, progress):
                resp = await self._request(session, request, progress)
                self._reading.add(resp)
                if not is_success(resp.status):
                    try:
                        body = await read_body(resp, self._max_body_size)
                    finally:
                        self._reading.discard(resp)
                        resp.release()
                    if resp.status == _proxy.PROXY_AUTH_REQUIRED:
                        raise self._proxy_auth_failed(request)
                    self._slots.give()
                    return Response(status=resp.status, headers=resp.headers, body=body)
        except BaseException:
            self._slots.give()
            raise
        streamed = StreamedBody(
            partial(self._read_chunk, resp, request), partial(self._release, resp)
        )
        return Response(status=resp.status, headers=resp.headers, chunks=streamed)

    async def _read_chunk(self, resp: aiohttp.ClientResponse, request: Request) -> bytes:
        """The next piece of a streamed body as it arrives; b"" at its end."""
        with self._our_errors(request):
            return await resp.content.read(CHUNK_BYTES)

    async def _release(self, resp: aiohttp.ClientResponse) -> None:
        """A streamed body's end: its connection, and its slot, go back to the pool."""
        self._reading.discard(resp)
        try:
            resp.release()
        finally:
            self._slots.give()

    @contextmanager
    def _our_errors(self, request: Request, progress: Progress | None = None) -> Iterator[None]:
        """aiohttp's and the OS's exceptions, raised as ours."""
        try:
            yield
        except asyncio.CancelledError:
            self._check_cancelled(request)
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = self._translated(exc, request, progress)
            raise error from _proxy.cause(error, exc)

    def _check_cancelled(self, request: Request) -> None:
        """Closing the connector cancels the calls waiting for a connection; only
        a real cancellation of this task may travel on as CancelledError."""
        task = asyncio.current_task()
        if self._closed and task is not None and not task.cancelling():
            raise _closed_in_flight(request) from None

    def _translated(
        self, exc: BaseException, request: Request, progress: Progress | None
    ) -> Exception:
        if self._closed:
            return _closed_in_flight(request)
        return our_error(exc, request.url, self._where(request.url), progress)

    def _where(self, url: str) -> str | None:
        return _proxy.proxy_address(self._proxy, url, trust_env=self._trust_env)

    def _proxy_auth_failed(self, request: Request) -> Exception:
        return _proxy.auth_failed(self._where(request.url), request.url)

    async def aclose(self) -> None:
        if self._loop is not None and self._session is not None:
            self._check_loop()
        self._closed = True
        self._slots.close()
        for resp in list(self._reading):
            resp.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()
