"""`HttpxTransport`: for apps already on httpx; the only module importing httpx.

Install with `pip install "ecomcharge-async[httpx]"`. `import ecomcharge_async`
never imports this module until `ecomcharge_async.HttpxTransport` is used.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import aclosing, asynccontextmanager
from functools import partial
from typing import Any, ClassVar, cast

import httpx

from .._core.errors import APIConnectionError, PoolTimeoutError
from .._core.http import Request
from . import proxy
from ._base import HTTPTransport
from .body import DEFAULT_MAX_BODY_SIZE, read_capped
from .common import (
    cannot_connect,
    check_tls,
    connect_timed_out,
    connection_failed,
    host,
    no_answer,
)
from .proxy import Progress


class _Answer:
    """An httpx response's status and headers (the server's spelling; the first of
    repeated names wins), with what its call started with: the request, its proxy
    progress, its deadline (the request's own timeout), and its streamed reader."""

    __slots__ = ("deadline", "headers", "pieces", "progress", "request", "response", "status")

    def __init__(
        self,
        response: httpx.Response,
        request: Request,
        progress: Progress | None,
        deadline: float | None,
    ) -> None:
        self.response = response
        self.status = response.status_code
        encoding = response.headers.encoding
        self.headers: dict[str, str] = {}
        for raw_name, raw_value in response.headers.raw:
            self.headers.setdefault(raw_name.decode(encoding), raw_value.decode(encoding))
        self.request = request
        self.progress = progress
        self.deadline = deadline
        self.pieces: AsyncGenerator[bytes, None] | None = None


class HttpxTransport(HTTPTransport[_Answer]):
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

    user_agent: ClassVar[str] = f"httpx/{httpx.__version__}"
    _pool_name = "client"
    _failures = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError)

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: float | None = 30.0,
        limit: int = 100,
        pool_timeout: float | None = 30.0,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        proxy: str | None = None,
        trust_env: bool = False,
        verify: _ssl.SSLContext | bool = True,
    ) -> None:
        shared = client is not None
        super().__init__(timeout, limit, pool_timeout, max_body_size, proxy, trust_env, shared)
        if client is not None and proxy is not None:
            raise ValueError("proxy= applies to a client the transport creates; set it on yours")
        self._client = client
        self._timeout = httpx.Timeout(self._seconds).as_dict()
        self._verify = check_tls("verify", verify)

    async def _open(self, request: Request, progress: Progress | None, bounded: bool) -> _Answer:
        client = self._client
        if client is None:
            # trust_env=False unless asked: like AiohttpTransport, ignore proxy and
            # netrc variables by default.
            client = self._client = httpx.AsyncClient(
                verify=self._verify,
                limits=httpx.Limits(max_connections=self._limit),
                trust_env=self._trust_env,
                proxy=self._proxy,
            )
        extensions: dict[str, Any] = {"timeout": self._timeout}
        if progress is not None:
            extensions["trace"] = progress
        # Built here, not by the client: a shared client's default headers, cookies
        # and params never reach eComCharge.
        built = httpx.Request(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.body or None,
            extensions=extensions,
        )
        deadline = None
        if request.timeout is not None:
            deadline = asyncio.get_running_loop().time() + request.timeout
        async with self._bounded(request, progress, deadline):
            # auth=None: a shared client's own `auth` must not replace our Authorization.
            resp = await client.send(built, auth=None, follow_redirects=False, stream=True)
        return _Answer(resp, request, progress, deadline)

    async def _close_pool(self) -> None:
        client, self._client = self._client, None
        if client is not None and not self._shared:
            await client.aclose()

    @asynccontextmanager
    async def _bounded(
        self, request: Request, progress: Progress | None, deadline: float | None
    ) -> AsyncIterator[None]:
        """Within the request's own timeout, which bounds the attempt until its
        whole body is in (a streamed 2xx body: until its headers are)."""
        bound = asyncio.timeout_at(deadline)
        try:
            async with bound:
                yield
        except TimeoutError as exc:
            if not bound.expired():
                raise
            where = self._where(request.url)
            if where is not None and progress is not None and not progress.past_proxy:
                raise proxy.no_tunnel_in_time(where, request.url) from exc
            raise no_answer(request.url, request.timeout) from exc

    async def _read(self, resp: _Answer) -> bytes:
        answer = resp.response
        declared = answer.headers.get("Content-Length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        limit = self._max_body_size
        async with (
            self._bounded(resp.request, resp.progress, resp.deadline),
            aclosing(_body_bytes(answer)) as pieces,
        ):
            read = partial(anext, pieces, b"")
            return await read_capped(read, answer.status_code, length, limit, "HttpxTransport")

    def _read_chunk(self, resp: _Answer) -> Awaitable[bytes]:
        if resp.pieces is None:
            resp.pieces = _body_bytes(resp.response)
        return anext(resp.pieces, b"")

    async def _release(self, resp: _Answer) -> None:
        try:
            if resp.pieces is not None:
                await resp.pieces.aclose()
        finally:  # even if closing the reader failed or was cancelled
            await resp.response.aclose()

    async def _abort(self, resp: _Answer) -> None:
        await resp.response.aclose()  # its reader, if mid-read, then fails and releases it

    def _map_error(
        self, exc: BaseException, url: str, where: str | None, progress: Progress | None
    ) -> APIConnectionError | None:
        if isinstance(exc, httpx.StreamError):  # misuse of httpx, not a network failure
            return None
        if isinstance(exc, httpx.PoolTimeout):  # waiting for httpx's pool: no proxy involved yet
            return PoolTimeoutError(f"no free connection to {host(url)} in time: not sent")
        if isinstance(exc, httpx.ProxyError):
            status, _, reason = str(exc).partition(" ")
            if status.isdigit():
                return proxy.tunnel_refused(where, url, int(status), reason)
            return proxy.unreachable(where, url, str(exc) or type(exc).__name__)
        at_proxy = where is not None and progress is not None and not progress.past_proxy
        if at_proxy and isinstance(exc, httpx.TimeoutException):
            return proxy.no_tunnel_in_time(where, url)
        if at_proxy and isinstance(exc, httpx.ConnectError):
            return proxy.unreachable(where, url, str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.ConnectTimeout):
            return connect_timed_out(url)
        if isinstance(exc, httpx.TimeoutException):
            return no_answer(url)
        if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.InvalidURL):
            return cannot_connect(url, exc)
        return connection_failed(url, exc)


def _body_bytes(resp: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The (decompressed) body as it arrives; with a chunk size httpx would wait to fill it."""
    return cast("AsyncGenerator[bytes, None]", resp.aiter_bytes())
