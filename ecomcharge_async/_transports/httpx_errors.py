"""httpx's and the OS's failures as the SDK's errors: what each means for the caller."""

from __future__ import annotations

import httpx

from .._core.errors import APIConnectionError, APITimeoutError, ConnectError, PoolTimeoutError
from . import proxy
from .common import host
from .proxy import Progress


def our_error(
    exc: Exception, url: str, where: str | None, progress: Progress | None
) -> APIConnectionError:
    """The error of ours for `exc`, met sending to `url` through the proxy `where` (if any).

    `progress` (traced through a proxy, else None) tells a failure at the proxy,
    before the request's headers went out, from one after.
    """
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
    name = host(url)
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectError(f"timed out connecting to {name}")
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no answer from {name} in time")
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConnectError(f"cannot connect to {name}: {exc}")
    return APIConnectionError(f"connection to {name} failed: {type(exc).__name__}: {exc}")


def timed_out(
    url: str, seconds: float | None, where: str | None, progress: Progress | None
) -> ConnectError | APITimeoutError:
    """The error for an attempt cut off by its own timeout (`seconds`)."""
    if where is not None and progress is not None and not progress.past_proxy:
        return proxy.no_tunnel_in_time(where, url)
    return APITimeoutError(f"no answer from {host(url)} within {seconds:g} s")
