"""What the HTTP transports share: option checks, the body cap, loop binding, close errors,
and the streamed body that gives its connection back however it ends (proxies: `proxy`).

Kept apart so that `AiohttpTransport` and `HttpxTransport` give the same
messages for the same mistakes, and neither module imports the other library.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from .._core.durations import seconds
from .._core.errors import DecodeError
from .._core.http import Request

CHUNK_BYTES = 64 * 1024
#: Default cap on one body read whole: 64 MiB, about 260,000 customers (~250 bytes each).
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024


Release = Coroutine[Any, Any, None]


class StreamedBody:
    """A streamed 2xx body: its chunks, then its connection and pool slot given back.

    A class, not an async generator: a generator closed or dropped before its
    first chunk never runs its `finally`, so the connection and the slot would
    leak. Here `release` runs exactly once, whichever comes first: the end of
    the body, an error while reading, `aclose()` (read or not), or the body
    being dropped (then on its event loop, as soon as it can).
    """

    __slots__ = ("_loop", "_read", "_release", "_released")

    def __init__(
        self, read: Callable[[], Awaitable[bytes]], release: Callable[[], Release]
    ) -> None:
        self._read = read  # the next chunk; b"" at the end
        self._release = release
        self._loop = asyncio.get_running_loop()
        self._released = False

    def __aiter__(self) -> StreamedBody:
        return self

    async def __anext__(self) -> bytes:
        if self._released:
            raise StopAsyncIteration
        try:
            chunk = await self._read()
        except BaseException:
            await self.aclose()
            raise
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Give the connection back now, whatever was read; later calls do nothing."""
        if not self._released:
            self._released = True
            await self._release()

    def __del__(self) -> None:
        if getattr(self, "_released", True) or self._loop.is_closed():
            return
        self._released = True
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to give back
            self._loop.call_soon_threadsafe(_release_dropped, self._loop, self._release)


#: Releases of dropped bodies still running (the loop keeps only weak references to tasks).
_releasing: set[asyncio.Task[None]] = set()


def _release_dropped(loop: asyncio.AbstractEventLoop, release: Callable[[], Release]) -> None:
    task = loop.create_task(release())
    _releasing.add(task)
    task.add_done_callback(_release_ended)


def _release_ended(task: asyncio.Task[None]) -> None:
    """A dropped body's release ended: nobody awaits it, so its error is read here."""
    _releasing.discard(task)
    if not task.cancelled():
        task.exception()  # read, so asyncio does not log it as never retrieved


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


def bound_loop(owner: str, loop: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
    """The running loop, which must be `loop` once a transport has been used in one.

    A connection pool belongs to the loop it was created in; used from another
    it hangs or fails deep inside the HTTP library, so this says so first.
    """
    running = asyncio.get_running_loop()
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


def body_too_large(owner: str, status: int, limit: int, detail: str) -> DecodeError:
    return DecodeError(
        f"body larger than max_body_size={limit} bytes ({detail}); "
        f"raise {owner}(max_body_size=...) for larger answers",
        status=status,
    )


def host(url: str) -> str:
    """The host (and port) of `url` for error messages, without any user info."""
    return urlsplit(url).netloc.rpartition("@")[2]
