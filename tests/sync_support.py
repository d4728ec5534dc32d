"""What the sync tests share: the fake served on loopback from a thread of its own, and a
middleware that notes a cancelled call."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import create_app, run_app


class Loopback:
    """The fake served over HTTP from a loop in a thread of its own, so a blocking sync call
    in the test's thread never stalls it. `peers` are the client ports of the connections
    it accepted, in order; `transports` their server ends, which `close_idle` closes as a
    server does with connections idle too long."""

    def __init__(self, fake: FakeEcomCharge) -> None:
        self.peers: list[int] = []
        self.transports: list[asyncio.Transport] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        app = create_app(fake)
        app.middlewares.append(self._note)
        self._served = run_app(app, shutdown_timeout=0.1)
        self.url = self._call(self._served.__aenter__())

    @web.middleware
    async def _note(self, request: web.Request, handler: Any) -> web.StreamResponse:
        transport = request.transport
        if transport is not None and transport not in self.transports:
            self.transports.append(transport)  # type: ignore[arg-type]
            peer = transport.get_extra_info("peername")
            if peer is not None:
                self.peers.append(peer[1])
        response: web.StreamResponse = await handler(request)
        return response

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close_idle(self) -> None:
        """Close every connection; return once their sockets are closed."""

        async def close() -> None:
            for transport in self.transports:
                transport.close()
            await asyncio.sleep(0)  # the sockets close on the next turn of the server's loop

        self._call(close())
        assert all(t.get_extra_info("socket") is None or t.is_closing() for t in self.transports)

    def close(self) -> None:
        self._call(self._served.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


class NoteCancel:
    """A middleware that sets `cancelled` when the call it passes on is cancelled."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    async def __call__(self, request: ec.Request, call_next: ec.Handler) -> ec.Response:
        try:
            return await call_next(request)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def noted_close(transport: Any) -> threading.Event:
    """An event set once `transport` has closed (its `aclose` wrapped to set it)."""
    closed = threading.Event()
    real_aclose = transport.aclose

    async def noted_aclose() -> None:
        await real_aclose()
        closed.set()

    transport.aclose = noted_aclose
    return closed
