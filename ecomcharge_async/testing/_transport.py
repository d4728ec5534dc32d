"""`FakeTransport`: the in-process front of the fake eComCharge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from .._core.errors import APIConnectionError, ConnectError
from .._core.http import Request, Response, is_success
from .._transports.common import closed_in_flight
from ._faults import Fault


class Backend(Protocol):
    """What the transport needs of a `FakeEcomCharge` (the backend imports the transport)."""

    def take_fault(self) -> Fault | None: ...

    def handle(self, request: Request) -> Response: ...


class FakeTransport:
    """A `Transport` that hands each request to a `FakeEcomCharge` in process.

    Requests and responses cross as bytes and headers, exactly as over HTTP, so
    the SDK's encoding, auth and decoding are all exercised. Like the HTTP
    transports, it raises `RuntimeError` once closed, also for a call in flight.
    """

    def __init__(self, fake: Backend) -> None:
        self.fake = fake
        self._closed = False
        self._delays: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"FakeTransport({self.fake!r})"

    async def send(self, request: Request) -> Response:
        if self._closed:
            raise RuntimeError("this FakeTransport is closed")
        fault = self.fake.take_fault()
        # Yield once, as real I/O would, so concurrent callers interleave.
        await asyncio.sleep(0)
        if fault is None:
            return self.fake.handle(request)
        if fault.kind == "refuse":
            raise ConnectError("connection refused (injected fault)")
        if fault.kind == "delay":
            await self._delay(fault.seconds)
            if self._closed:  # as the HTTP transports: closed while in flight
                raise closed_in_flight(request)
        if fault.kind == "status":
            return Response(
                status=fault.status_code, headers=fault.response_headers(), body=fault.body
            )
        response = self.fake.handle(request)
        if fault.kind == "drop":
            raise APIConnectionError("connection lost before the response arrived (injected fault)")
        return response

    async def stream(self, request: Request) -> Response:
        """`send`, with a 2xx body handed over in chunks, as a network would."""
        response = await self.send(request)
        if not is_success(response.status):
            return response
        return Response(
            status=response.status, headers=response.headers, chunks=_pieces(response.body)
        )

    async def _delay(self, seconds: float) -> None:
        """Sleep `seconds`, or less: closing the transport ends the wait at once."""
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        timer = loop.call_later(seconds, _wake, woken)
        self._delays.add(woken)
        try:
            await woken
        finally:
            timer.cancel()
            self._delays.discard(woken)

    async def aclose(self) -> None:
        self._closed = True
        for woken in self._delays:
            _wake(woken)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


async def _pieces(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        await asyncio.sleep(0)
        yield body[start : start + size]
