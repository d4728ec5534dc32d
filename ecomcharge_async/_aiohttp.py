"""`AiohttpTransport`: the default transport, and the only module using aiohttp's client."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager

import aiohttp

from ._errors import APIConnectionError, APITimeoutError, ConnectError, DecodeError
from ._http import Request, Response
from ._transport_common import (
    CHUNK_BYTES,
    DEFAULT_MAX_BODY_SIZE,
    body_too_large,
    bound_loop,
    check_limit,
    check_max_body_size,
    check_timeout,
    check_tls,
)
from ._transport_common import closed_in_flight as _closed_in_flight
from ._transport_common import host as _host


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
    when `timeout` is None. `limit` caps concurrent connections. `max_body_size` caps the bytes held
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
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        if session is not None and session.auth is not None:
            raise ValueError(
                "the aiohttp.ClientSession has auth= set, which would clash with the "
                "eComCharge credentials the Client sends; pass a session without auth"
            )
        self._session = session
        self._owns_session = session is None
        connect = check_timeout(connect_timeout)
        self._timeout = aiohttp.ClientTimeout(total=check_timeout(timeout), sock_connect=connect)
        # A streamed body may take minutes to arrive: bound each read, not the whole.
        self._stream_timeout = aiohttp.ClientTimeout(
            sock_connect=connect or timeout, sock_read=timeout
        )
        self._ssl = check_tls("ssl", ssl)
        self._limit = check_limit(limit)
        self._max_body_size = check_max_body_size(max_body_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Bodies being read: closing the session does not wake their readers, aclose() does.
        self._reading: set[aiohttp.ClientResponse] = set()
        self._closed = False

    def __repr__(self) -> str:
        owner = "own" if self._owns_session else "shared"
        return f"AiohttpTransport(session={owner}, timeout={self._timeout.total})"

    def _check_loop(self) -> None:
        self._loop = bound_loop("AiohttpTransport", self._loop)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this AiohttpTransport is closed")
        self._check_loop()
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _request(
        self, request: Request, limits: aiohttp.ClientTimeout
    ) -> Awaitable[aiohttp.ClientResponse]:
        # A plain function handing back aiohttp's awaitable: a coroutine here would be
        # one more object per call in flight for the garbage collector to walk.
        return self._get_session().request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body or None,
            timeout=limits,
            allow_redirects=False,
            raise_for_status=False,  # a shared session's setting must not turn 4xx into raises
        )

    async def send(self, request: Request) -> Response:
        # `try` rather than `with self._our_errors(...)`: the context manager's
        # objects would live as long as the call (GC work at high concurrency).
        try:
            async with await self._request(request, self._timeout) as resp:
                self._reading.add(resp)
                try:
                    body = await _read_body(resp, self._max_body_size)
                finally:
                    self._reading.discard(resp)
                return Response(status=resp.status, headers=resp.headers, body=body)
        except asyncio.CancelledError:
            self._check_cancelled(request)
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._translated(exc, request) from exc

    async def stream(self, request: Request) -> Response:
        """Like `send`, but a 2xx body is handed over as `Response.chunks`."""
        with self._our_errors(request):
            resp = await self._request(request, self._stream_timeout)
            self._reading.add(resp)
            if not 200 <= resp.status < 300:
                try:
                    body = await _read_body(resp, self._max_body_size)
                finally:
                    self._reading.discard(resp)
                    resp.release()
                return Response(status=resp.status, headers=resp.headers, body=body)
        return Response(
            status=resp.status, headers=resp.headers, chunks=self._chunks(resp, request)
        )

    async def _chunks(self, resp: aiohttp.ClientResponse, request: Request) -> AsyncIterator[bytes]:
        """The body as it arrives; the connection goes back to the pool when done."""
        try:
            with self._our_errors(request):
                async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                    yield chunk
        finally:
            self._reading.discard(resp)
            resp.release()

    @contextmanager
    def _our_errors(self, request: Request) -> Iterator[None]:
        """aiohttp's and the OS's exceptions, raised as ours."""
        try:
            yield
        except asyncio.CancelledError:
            self._check_cancelled(request)
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._translated(exc, request) from exc

    def _check_cancelled(self, request: Request) -> None:
        """Closing the connector cancels the calls waiting for a connection; only
        a real cancellation of this task may travel on as CancelledError."""
        task = asyncio.current_task()
        if self._closed and task is not None and not task.cancelling():
            raise _closed_in_flight(request) from None

    def _translated(self, exc: BaseException, request: Request) -> Exception:
        return _closed_in_flight(request) if self._closed else _our_error(exc, request.url)

    async def aclose(self) -> None:
        if self._loop is not None and self._session is not None:
            self._check_loop()
        self._closed = True
        for resp in list(self._reading):
            resp.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()


def _our_error(exc: BaseException, url: str) -> APIConnectionError:
    """The error of ours that says what an aiohttp or socket failure means for the caller."""
    host = _host(url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectError(f"timed out connecting to {host}")
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return APITimeoutError(f"no answer from {host} in time")
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
        return ConnectError(f"cannot connect to {host}: {exc}")
    return APIConnectionError(f"connection to {host} failed: {type(exc).__name__}: {exc}")


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, never holding more than `limit` bytes of it.

    A 2xx over the limit raises `DecodeError` (at once when Content-Length
    announces it); any other status keeps its first `limit` bytes so that it
    still maps to its error. Either way the connection is closed, not drained.
    """
    success = 200 <= resp.status < 300
    declared = resp.content_length
    if success and declared is not None and declared > limit:
        resp.close()
        raise _too_large(resp.status, limit, f"Content-Length is {declared}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.readany():
        size += len(chunk)
        if size > limit:
            resp.close()
            if success:
                raise _too_large(resp.status, limit, f"more than {limit} bytes arrived")
            chunks.append(chunk[: len(chunk) - (size - limit)])
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(status: int, limit: int, detail: str) -> DecodeError:
    return body_too_large("AiohttpTransport", status, limit, detail)
