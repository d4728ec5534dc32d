"""Bodies, as both HTTP transports read them: whole under the size cap, or streamed.

The cap is counted as the bytes arrive, so a body is never held past it;
a streamed body gives its connection back exactly once, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .._core.errors import DecodeError
from .._core.http import is_success

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


def capped(body: bytes, status: int, room: int, owner: str, limit: int) -> bytes:
    """`body` held to the `room` bytes left under the cap (`limit`): a 2xx over it
    raises `DecodeError`, any other answer keeps what fits, so that it still maps
    to its error."""
    if len(body) <= room:
        return body
    if is_success(status):
        raise _too_large(owner, status, limit, f"more than {limit} bytes arrived")
    return body[:room]


async def read_capped(
    read: Callable[[], Awaitable[bytes]], status: int, declared: int | None, limit: int, owner: str
) -> bytes:
    """The body that `read` gives piece by piece (b"" at its end), held to `limit` bytes.

    As `capped`; a 2xx whose Content-Length (`declared`) is over the limit is
    refused before its first byte. The caller releases the response, which
    closes a connection left unread instead of draining it.
    """
    if declared is not None and declared > limit and is_success(status):
        raise _too_large(owner, status, limit, f"Content-Length is {declared}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await read():
        size += len(chunk)
        if size > limit:
            # Cut where the cap falls (the rest is never held): a 2xx raises there.
            chunks.append(capped(chunk, status, len(chunk) - (size - limit), owner, limit))
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(owner: str, status: int, limit: int, detail: str) -> DecodeError:
    return DecodeError(
        f"body larger than max_body_size={limit} bytes ({detail}); "
        f"raise {owner}(max_body_size=...) for larger answers",
        status=status,
    )
