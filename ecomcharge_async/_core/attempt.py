"""The chain's last link: one attempt on the transport, bounded by the request's timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from .errors import APITimeoutError
from .http import BOUNDS_ATTEMPTS, Request, Response, StreamingTransport, Transport


class Attempt:
    """Sends one attempt of a request on `transport`.

    A transport marked `bounds_attempts` (the SDK's own HTTP transports) bounds
    `request.timeout` itself, from when the request has a connection, so a wait
    for a free connection is not counted; any other transport is bounded here,
    around the whole call. A streamed body is bounded later, chunk by chunk,
    by its reader.
    """

    __slots__ = ("_bounded", "_send", "_stream")

    def __init__(self, transport: Transport) -> None:
        self._send = transport.send
        self._stream = transport.stream if isinstance(transport, StreamingTransport) else None
        self._bounded = getattr(transport, BOUNDS_ATTEMPTS, False) is True

    def __call__(self, request: Request) -> Awaitable[Response]:
        send = self._stream if request.stream and self._stream else self._send
        if request.timeout is None or self._bounded:
            return send(request)
        return _bounded(send(request), request.timeout)


async def _bounded(call: Awaitable[Response], seconds: float) -> Response:
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError as exc:
        raise APITimeoutError(f"no answer within {seconds:g} s") from exc
