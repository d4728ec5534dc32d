"""`HttpxTransport`: for apps already on httpx; the only module importing httpx.

Install with `pip install "ecomcharge-async[httpx]"`. `import ecomcharge_async`
never imports this module until `ecomcharge_async.HttpxTransport` is used.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from ._errors import APIConnectionError, APITimeoutError, ConnectError
from ._http import Request, Response

CHUNK_BYTES = 64 * 1024


class HttpxTransport:
    """Sends requests over one `httpx.AsyncClient`, yours or its own.

    Pass the `AsyncClient` your app already has to share its connection pool,
    proxies and TLS settings; `aclose()` closes only a client this transport
    created. Each request is built here, not by the shared client, so that
    client's default headers, cookies, params and `auth` never reach eComCharge.
    `timeout` bounds each phase (connect, write, read, pool wait) in seconds, as
    httpx does (None: no limit of its own); the `Client` bounds the whole attempt.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: float | None = 30.0,
        verify: _ssl.SSLContext | bool = True,
        limit: int = 100,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, got {timeout!r}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        self._client = client
        self._owns_client = client is None
        self._timeout = httpx.Timeout(timeout).as_dict()
        self._verify = verify
        self._limit = limit
        self._closed = False

    def __repr__(self) -> str:
        owner = "own" if self._owns_client else "shared"
        return f"HttpxTransport(client={owner}, timeout={self._timeout['read']})"

    def _get_client(self) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("this HttpxTransport is closed")
        if self._client is None:
            # trust_env=False: like AiohttpTransport, ignore proxy and netrc variables;
            # pass your own AsyncClient to use them.
            self._client = httpx.AsyncClient(
                verify=self._verify,
                limits=httpx.Limits(max_connections=self._limit),
                trust_env=False,
            )
        return self._client

    def _request(self, request: Request) -> httpx.Request:
        return httpx.Request(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.body or None,
            extensions={"timeout": self._timeout},
        )

    async def send(self, request: Request) -> Response:
        client = self._get_client()
        with _mapped_errors(request.url):
            # auth=None: a shared client's own `auth` must not replace our Authorization.
            resp = await client.send(self._request(request), auth=None, follow_redirects=False)
        return Response(status=resp.status_code, headers=_headers(resp), body=resp.content)

    async def stream(self, request: Request) -> Response:
        """Like `send`, but a 2xx body is handed over as `Response.chunks`."""
        client = self._get_client()
        with _mapped_errors(request.url):
            resp = await client.send(
                self._request(request), auth=None, follow_redirects=False, stream=True
            )
            if not 200 <= resp.status_code < 300:
                try:
                    body = await resp.aread()
                finally:
                    await resp.aclose()
                return Response(status=resp.status_code, headers=_headers(resp), body=body)
        return Response(
            status=resp.status_code, headers=_headers(resp), chunks=_chunks(resp, request.url)
        )

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()


async def _chunks(resp: httpx.Response, url: str) -> AsyncIterator[bytes]:
    """The body as it arrives; the connection goes back to the pool when done."""
    try:
        with _mapped_errors(url):
            async for chunk in resp.aiter_bytes(CHUNK_BYTES):
                yield chunk
    finally:
        await resp.aclose()


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """httpx's and the OS's exceptions, raised as ours, as `AiohttpTransport` does."""
    try:
        yield
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise ConnectError(f"timed out connecting to {_host(url)}") from exc
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"no answer from {_host(url)} in time") from exc
    except (
        httpx.ConnectError,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
        httpx.InvalidURL,
    ) as exc:
        raise ConnectError(f"cannot connect to {_host(url)}: {exc}") from exc
    except (httpx.HTTPError, OSError) as exc:
        raise APIConnectionError(
            f"connection to {_host(url)} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _headers(resp: httpx.Response) -> dict[str, str]:
    """Response headers with the server's spelling; the first of repeated names wins."""
    encoding = resp.headers.encoding
    headers: dict[str, str] = {}
    for raw_name, raw_value in resp.headers.raw:
        headers.setdefault(raw_name.decode(encoding), raw_value.decode(encoding))
    return headers


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]
