"""`AiohttpTransport`: the default transport, and the only module using aiohttp's client."""

from __future__ import annotations

import ssl as _ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import aiohttp

from ._errors import APIConnectionError, APITimeoutError, ConnectError
from ._http import Request, Response

CHUNK_BYTES = 64 * 1024


class AiohttpTransport:
    """Sends requests over one shared `aiohttp.ClientSession`.

    The session is created lazily on first use (so the transport can be built
    outside a running loop), or handed in by the caller; `aclose()` closes only
    a session this transport created. `timeout` bounds each request in seconds
    (None: no limit of its own).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float | None = 30.0,
        ssl: _ssl.SSLContext | bool = True,
        limit: int = 100,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ssl = ssl
        self._limit = limit
        self._closed = False

    def __repr__(self) -> str:
        owner = "own" if self._owns_session else "shared"
        return f"AiohttpTransport(session={owner}, timeout={self._timeout.total})"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this AiohttpTransport is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def send(self, request: Request) -> Response:
        session = self._get_session()
        with _mapped_errors(request.url):
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body or None,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                return Response(status=resp.status, headers=dict(resp.headers), body=body)

    async def stream(self, request: Request) -> Response:
        """Like `send`, but a 2xx body is handed over as `Response.chunks`."""
        session = self._get_session()
        with _mapped_errors(request.url):
            resp = await session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body or None,
                timeout=self._timeout,
                allow_redirects=False,
            )
            if not 200 <= resp.status < 300:
                try:
                    body = await resp.read()
                finally:
                    resp.release()
                return Response(status=resp.status, headers=dict(resp.headers), body=body)
        return Response(
            status=resp.status, headers=dict(resp.headers), chunks=_chunks(resp, request.url)
        )

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()


async def _chunks(resp: aiohttp.ClientResponse, url: str) -> AsyncIterator[bytes]:
    """The body as it arrives; the connection goes back to the pool when done."""
    try:
        with _mapped_errors(url):
            async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                yield chunk
    finally:
        resp.release()


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """aiohttp's and the OS's exceptions, raised as ours."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise ConnectError(f"timed out connecting to {_host(url)}") from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise APITimeoutError(f"no answer from {_host(url)} in time") from exc
    except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
        raise ConnectError(f"cannot connect to {_host(url)}: {exc}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise APIConnectionError(
            f"connection to {_host(url)} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]
