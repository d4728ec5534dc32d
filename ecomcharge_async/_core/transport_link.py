"""The chain's last link: each attempt to the transport, and the one owner of its timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import attrs

from .errors import APITimeoutError, stream_stalled
from .http import BOUNDS_ATTEMPTS, Request, Response, StreamingTransport, Transport


class TransportLink:
    """Sends one attempt of a request on `transport`, bounded by `request.timeout`.

    A transport marked `bounds_attempts` (the SDK's own HTTP transports) bounds
    `request.timeout` itself, from when the request has a connection, so a wait
    for a free connection is not counted; any other transport is bounded here,
    around the whole call. A streamed body is bounded here too, each wait for
    its next chunk. `None` means no bound.
    """

    __slots__ = ("_bounded", "_send", "_stream")

    def __init__(self, transport: Transport) -> None:
        self._send = transport.send
        self._stream = transport.stream if isinstance(transport, StreamingTransport) else None
        self._bounded = getattr(transport, BOUNDS_ATTEMPTS, False) is True

    def __call__(self, request: Request) -> Awaitable[Response]:
        if request.stream:
            return self._streamed(request)
        if request.timeout is None or self._bounded:
            return self._send(request)
        return _bounded(self._send(request), request.timeout)

    async def _streamed(self, request: Request) -> Response:
        if self._stream is None:
            call = self._send(request)
            return await (call if self._bounded else _bounded(call, request.timeout))
        call = self._stream(request)
        response = await (call if self._bounded else _bounded(call, request.timeout))
        if response.chunks is None or request.timeout is None:
            return response
        return attrs.evolve(response, chunks=_EachChunkBounded(response.chunks, request.timeout))


async def _bounded(call: Awaitable[Response], seconds: float | None) -> Response:
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError as exc:
        raise APITimeoutError(f"no answer within {seconds:g} s") from exc


class _EachChunkBounded:
    """`chunks`, each wait for the next one bounded by `seconds`.

    A class, not an async generator: a generator closed before its first
    chunk never runs its `finally`, and closing this must always close the
    body under it (the connection goes back to the pool at once).
    """

    __slots__ = ("_chunks", "_seconds")

    def __init__(self, chunks: AsyncIterator[bytes], seconds: float) -> None:
        self._chunks = chunks
        self._seconds = seconds

    def __aiter__(self) -> _EachChunkBounded:
        return self

    async def __anext__(self) -> bytes:
        try:
            async with asyncio.timeout(self._seconds):
                return await anext(self._chunks)
        except TimeoutError as exc:
            await self.aclose()
            raise stream_stalled(self._seconds) from exc
        except BaseException:  # the end, or an error: the body goes back either way
            await self.aclose()
            raise

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
