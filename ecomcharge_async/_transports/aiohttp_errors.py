"""aiohttp's and the OS's failures as the SDK's errors: what each means for the caller."""

from __future__ import annotations

from typing import Any

import aiohttp

from .._core.errors import APIConnectionError, APITimeoutError, ConnectError
from . import proxy
from .common import host
from .proxy import Progress


def headers_sent() -> aiohttp.TraceConfig:
    """Marks a request's `Progress` once its own headers went out (a CONNECT's are not traced)."""

    async def sent(_session: object, context: Any, _params: object) -> None:
        context.trace_request_ctx.past_proxy = True

    config = aiohttp.TraceConfig()
    config.on_request_headers_sent.append(sent)
    return config


def our_error(
    exc: BaseException, url: str, where: str | None, progress: Progress | None
) -> APIConnectionError:
    """The error of ours for `exc`, met sending to `url` through the proxy `where` (if any).

    `progress` (traced through a proxy, else None) tells a timeout at the proxy,
    before the request's headers went out, from one after.
    """
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
    name = host(url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectError(f"timed out connecting to {name}")
    if timed_out:
        return APITimeoutError(f"no answer from {name} in time")
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
        return ConnectError(f"cannot connect to {name}: {exc}")
    return APIConnectionError(f"connection to {name} failed: {type(exc).__name__}: {exc}")
