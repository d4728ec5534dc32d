"""`AiohttpTransport`: the default transport, and the only module using aiohttp's client."""

from __future__ import annotations

import math
import ssl as _ssl
from collections.abc import Awaitable
from typing import Any, ClassVar

import aiohttp

from .._core.errors import APIConnectionError
from .._core.http import Request
from . import proxy
from ._base import HTTPTransport
from .body import CHUNK_BYTES, DEFAULT_MAX_BODY_SIZE, capped, read_capped
from .common import (
    cannot_connect,
    check_timeout,
    check_tls,
    connect_timed_out,
    connection_failed,
    no_answer,
)
from .proxy import Progress

#: The kinds of aiohttp timeouts: each read of a streamed body; opening a connection
#: only (the transport's deadline bounds the attempt); the whole attempt.
_STREAM, _DEADLINE, _TOTAL = "stream", "deadline", "total"


# mypy checks the bound before it reads aiohttp's `reify` headers (a `Head` where used).
class AiohttpTransport(HTTPTransport[aiohttp.ClientResponse]):  # type: ignore[type-var]
    """Sends requests over one shared `aiohttp.ClientSession`.

    The session is created lazily on first use (so the transport can be built
    outside a running loop), or handed in by the caller; `aclose()` closes only
    a session this transport created (its default headers and cookies are sent
    too; its `raise_for_status` is ignored). A session of its own keeps no
    cookies: the API authenticates each request, and a cookie a load balancer
    sets would otherwise be parsed, stored and matched on every request (as
    `HttpxTransport`, which never sends any). The transport belongs to the event loop
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

    user_agent: ClassVar[str] = f"aiohttp/{aiohttp.__version__}"
    _pool_name = "session"
    _failures = (aiohttp.ClientError, OSError, TimeoutError)

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
        shared = session is not None
        super().__init__(timeout, limit, pool_timeout, max_body_size, proxy, trust_env, shared)
        self._session = session
        # A shared session's requests are not traced (its trace configs are its own).
        self._traced = self._traced and session is None
        # Whole attempts are bounded by the transport's deadlines (`_bound`), not by
        # aiohttp's per-request timer, on a session of its own that nothing delays
        # before connecting (no proxy lookup, no tracing, no middleware of another).
        self._deadlined = session is None and not self._traced
        self._connect_timeout = check_timeout(connect_timeout, "connect_timeout")
        self._ssl = check_tls("ssl", ssl)
        # aiohttp's timeouts of each kind (`_timeouts`), built once per duration.
        self._built: dict[tuple[str, float | None], aiohttp.ClientTimeout] = {}

    def _timeouts(self, kind: str, seconds: float | None) -> aiohttp.ClientTimeout:
        connect = self._connect_timeout
        if kind == _STREAM:
            # A streamed body may take minutes to arrive: bound each read, not the whole.
            return aiohttp.ClientTimeout(sock_connect=connect or seconds, sock_read=seconds)
        if kind == _DEADLINE:
            # The deadline ends the attempt `GRACE` after `seconds`; aiohttp's bound on
            # opening a connection (none for a pooled one) fires first, not rounded up
            # to the second, so a connection that never opened reads as not sent.
            return aiohttp.ClientTimeout(
                connect=seconds, sock_connect=connect, ceil_threshold=math.inf
            )
        return aiohttp.ClientTimeout(total=seconds, sock_connect=connect)

    def _bound(self, request: Request) -> float | None:
        if not self._deadlined or request.stream:
            return None
        seconds = request.timeout
        return self._seconds if seconds is None else seconds

    def _limits(self, request: Request, bounded: bool) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for `request`: its own `timeout`, else the transport's."""
        kind = _STREAM if request.stream else _DEADLINE if bounded else _TOTAL
        seconds = self._seconds if request.timeout is None else request.timeout
        built = self._built
        limits = built.get((kind, seconds))
        if limits is None:
            if len(built) >= 64:
                built.clear()  # per-call timeouts of every value: keep the cache small
            limits = built[kind, seconds] = self._timeouts(kind, check_timeout(seconds))
        return limits

    def _open(
        self, request: Request, progress: Progress | None, bounded: bool
    ) -> Awaitable[aiohttp.ClientResponse]:
        # Not a coroutine of its own: aiohttp's awaitable is handed straight back.
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl)
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=self._trust_env,
                trace_configs=[_headers_sent()] if self._traced else None,
            )
        return session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body or None,
            timeout=self._limits(request, bounded),
            proxy=self._proxy,
            allow_redirects=False,
            raise_for_status=False,  # a shared session's setting must not turn 4xx into raises
            trace_request_ctx=progress,
        )

    async def _close_pool(self) -> None:
        session, self._session = self._session, None
        if session is not None and not self._shared:
            await session.close()

    def _arrived(self, resp: aiohttp.ClientResponse) -> bytes | None:
        # A small answer usually arrives with its headers: taken with no reading coroutine.
        content = resp.content
        if not content.is_eof():
            return None
        body = content.read_nowait()
        limit = self._max_body_size
        if len(body) > limit:
            return capped(body, resp.status, limit, "AiohttpTransport", limit)
        return body

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        read = resp.content.readany
        limit = self._max_body_size
        return await read_capped(read, resp.status, resp.content_length, limit, "AiohttpTransport")

    def _read_chunk(self, resp: aiohttp.ClientResponse) -> Awaitable[bytes]:
        return resp.content.read(CHUNK_BYTES)

    def _release(self, resp: aiohttp.ClientResponse) -> None:
        # By hand rather than `async with resp`, whose exit only waits for the request
        # writer: that is done unless the server answered before reading the whole
        # body; `release()` then cancels it and aiohttp pools the connection once it
        # stops. A body not read to its end closes the connection instead. (What
        # `release()` returns is not awaited: it would only yield to the loop.)
        resp.release()

    def _map_error(
        self, exc: BaseException, url: str, where: str | None, progress: Progress | None
    ) -> APIConnectionError:
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            return proxy.tunnel_refused(where, url, exc.status, exc.message)
        # Through a proxy aiohttp resolves only the proxy's name (the proxy resolves the
        # API's): a failed lookup there is an unreachable proxy too.
        if isinstance(exc, aiohttp.ClientConnectorError) and (
            isinstance(exc, aiohttp.ClientProxyConnectionError)
            or (where is not None and isinstance(exc, aiohttp.ClientConnectorDNSError))
        ):
            detail = exc.os_error.strerror or type(exc.os_error).__name__
            return proxy.unreachable(where, url, detail)
        timed_out = isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError)
        if timed_out and where is not None and progress is not None and not progress.past_proxy:
            return proxy.no_tunnel_in_time(where, url)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return connect_timed_out(url)
        if timed_out:
            return no_answer(url)
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
            return cannot_connect(url, exc)
        return connection_failed(url, exc)


def _headers_sent() -> aiohttp.TraceConfig:
    """Marks a request's `Progress` once its own headers went out (a CONNECT's are not traced)."""

    async def sent(_session: object, context: Any, _params: object) -> None:
        context.trace_request_ctx.past_proxy = True

    config = aiohttp.TraceConfig()
    config.on_request_headers_sent.append(sent)
    return config
