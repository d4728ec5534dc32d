"""What the HTTP transports check and say alike: option checks, loop binding, and
the messages of the errors they raise for network failures (proxies: `proxy`).

Kept apart so that `AiohttpTransport` and `HttpxTransport` give the same
messages for the same mistakes, and neither module imports the other library.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from urllib.parse import urlsplit

from .._core.durations import seconds
from .._core.errors import APIConnectionError, APITimeoutError, ConnectError
from .._core.http import Request


def check_tls(name: str, value: object) -> _ssl.SSLContext | bool:
    """`value` if it is True, False or an `ssl.SSLContext`; a CA path is refused."""
    if not isinstance(value, bool | _ssl.SSLContext):
        raise TypeError(
            f"{name} must be True, False or an ssl.SSLContext (for a CA bundle: "
            f"ssl.create_default_context(cafile=...)), got {type(value).__name__}"
        )
    return value


def check_max_body_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_body_size must be an int (bytes), got {value!r}")
    if value < 1:
        raise ValueError(f"max_body_size must be at least 1 byte, got {value}")
    return value


def check_timeout(value: float | None, name: str = "timeout") -> float | None:
    """A transport's duration option: finite seconds above 0, or None (no limit)."""
    return seconds(name, value, none_ok=True)


def check_limit(value: int) -> int:
    if value < 1:
        raise ValueError(f"limit must be at least 1, got {value!r}")
    return value


def bound_loop(
    owner: str,
    loop: asyncio.AbstractEventLoop | None,
    running: asyncio.AbstractEventLoop | None = None,
) -> asyncio.AbstractEventLoop:
    """The running loop (`running`, when known), which must be `loop` once a transport
    has been used in one.

    A connection pool belongs to the loop it was created in; used from another
    it hangs or fails deep inside the HTTP library, so this says so first.
    """
    running = running or asyncio.get_running_loop()
    if loop is not None and running is not loop:
        raise RuntimeError(
            f"this {owner} (and its Client) belongs to the event loop it was "
            "first used in; create one Client per event loop, inside that loop"
        )
    return running


def closed_in_flight(request: Request) -> RuntimeError:
    """The error for a call ended by closing its transport: not retried, not a network error."""
    return RuntimeError(
        f"{request.method} {urlsplit(request.url).path}: the transport was closed while "
        "the request was in flight (it may have reached the server)"
    )


def host(url: str) -> str:
    """The host (and port) of `url` for error messages, without any user info."""
    return urlsplit(url).netloc.rpartition("@")[2]


def connect_timed_out(url: str) -> ConnectError:
    return ConnectError(f"timed out connecting to {host(url)}")


def no_answer(url: str, seconds: float | None = None) -> APITimeoutError:
    """An attempt that timed out once the request may have left (within `seconds`, if known)."""
    within = "in time" if seconds is None else f"within {seconds:g} s"
    return APITimeoutError(f"no answer from {host(url)} {within}")


def cannot_connect(url: str, exc: BaseException) -> ConnectError:
    return ConnectError(f"cannot connect to {host(url)}: {exc}")


def connection_failed(url: str, exc: BaseException) -> APIConnectionError:
    return APIConnectionError(f"connection to {host(url)} failed: {type(exc).__name__}: {exc}")
