"""HTTP proxies, as both transports see them: the option, and the errors that name the proxy.

A failure at the proxy is a `ProxyError`, a `ConnectError`: the API never saw
the request, so the rules for "surely not sent" apply. Every message names the
proxy as `host:port` and says what to check; none quotes its password.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

from .._core.errors import ProxyError
from .common import host

PROXY_AUTH_REQUIRED = 407
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_proxy(proxy: str | None, *, trust_env: bool, shared: bool) -> str | None:
    """`proxy` if it is an http(s) URL with a host; messages never quote its password."""
    if not isinstance(trust_env, bool):
        raise TypeError(f"trust_env must be True or False, got {type(trust_env).__name__}")
    if shared and trust_env:
        raise ValueError("trust_env= applies to a session the transport creates; set it on yours")
    if proxy is None:
        return None
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be a URL string, got {type(proxy).__name__}")
    parts = urlsplit(proxy)
    try:
        parts.port  # noqa: B018 (reading it validates it)
    except ValueError:
        raise ValueError(f"proxy has an invalid port (host {parts.hostname})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Not echoed: without a scheme, a password may sit anywhere in the string.
        raise ValueError("proxy must be an http(s)://[user:password@]host:port URL")
    return proxy


def redact_url(url: str | None) -> str | None:
    """`url` with any password replaced by `***`, for reprs and messages."""
    if url is None:
        return None
    parts = urlsplit(url)
    user, at, where = parts.netloc.rpartition("@")
    if not at:
        return url
    name = user.partition(":")[0]
    return parts._replace(netloc=f"{name}:***@{where}" if name else f"***@{where}").geturl()


def proxy_address(proxy: str | None, url: str, *, trust_env: bool) -> str | None:
    """`host:port` of the proxy a request to `url` goes through; None when it goes direct.

    The transport's `proxy=`, else (with `trust_env`) `HTTP_PROXY`/`HTTPS_PROXY`
    unless `NO_PROXY` names the host, as aiohttp and httpx read them.
    """
    if proxy is None and trust_env:
        parts = urlsplit(url)
        found = urllib.request.getproxies_environment()
        bypass = parts.hostname and urllib.request.proxy_bypass(parts.hostname)
        proxy = None if bypass else found.get(parts.scheme) or found.get("all")
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
    name = parts.hostname or "?"
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


class Progress:
    """How far one proxied request got: `past_proxy` once the proxy has done its part.

    That is once the request's own headers start going out, or (httpx, for an
    `https://` API) once the proxy answered the CONNECT. Until then, a timeout
    or a network error happened at the proxy (no connection to it, no tunnel
    through it): the request was not sent. Filled in by the HTTP library's
    tracing hooks.
    """

    __slots__ = ("past_proxy",)

    def __init__(self) -> None:
        self.past_proxy = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's `trace` extension."""
        connect = getattr(info.get("request"), "method", None) == b"CONNECT"
        # The request's own headers start, or a CONNECT is answered (2xx or not).
        done = "receive_response_headers.complete" if connect else "send_request_headers.started"
        if event.endswith(done):
            self.past_proxy = True


def cause(error: Exception, exc: BaseException) -> BaseException | None:
    """What `error` is raised from: `exc`, except for a `ProxyError`, whose library
    exception may print the proxy's URL with its password (aiohttp's does)."""
    return None if isinstance(error, ProxyError) else exc


def _proxy(where: str | None) -> str:
    return f"proxy {where}" if where else "a proxy on the way"


def auth_failed(where: str | None, url: str) -> ProxyError:
    return ProxyError(
        f"{_proxy(where)} refused the request to {host(url)}: proxy authentication failed "
        "(407): check the user and password in proxy= (the API never saw the request)"
    )


def tunnel_refused(where: str | None, url: str, status: int, reason: str) -> ProxyError:
    if status == PROXY_AUTH_REQUIRED:
        return auth_failed(where, url)
    return ProxyError(
        f"{_proxy(where)} refused to open a tunnel (CONNECT) to {host(url)}: {status} "
        f"{reason}: check that the proxy allows connections to that host and port"
    )


def unreachable(where: str | None, url: str, detail: str) -> ProxyError:
    return ProxyError(
        f"cannot connect to {_proxy(where)} (for {host(url)}): {detail}: check the host "
        "and port in proxy= (or HTTP(S)_PROXY) and that the proxy is running"
    )


def no_tunnel_in_time(where: str | None, url: str) -> ProxyError:
    what = "a tunnel (CONNECT)" if urlsplit(url).scheme == "https" else "a connection"
    return ProxyError(
        f"{_proxy(where)} did not set up {what} to {host(url)} in time: check that the "
        "proxy is reachable and can reach the API (the request was not sent)"
    )
