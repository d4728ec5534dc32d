"""The pool's slots: one per connection, taken before an attempt's timer starts.

Both HTTP transports take a slot before handing a request to their library, so
the library never queues a request for a connection inside the attempt: time
spent waiting for a connection is never mistaken for time the server took, and
a request that waited too long is known not to have been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from .._core.errors import PoolTimeoutError
from .._core.http import Request
from .common import closed_in_flight, host


class Slots:
    """`size` slots handed out first come, first served; `wait` is bounded by `timeout`.

    The uncontended path (`take_now`) is one comparison, with no coroutine and
    no object made; only a request that has to queue builds a future.
    """

    __slots__ = ("_closed", "_free", "_waiters", "size", "timeout")

    def __init__(self, size: int, timeout: float | None) -> None:
        self.size = size
        self.timeout = timeout
        self._free = size
        self._closed = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take_now(self) -> bool:
        """Take a free slot if one is free and nobody queues before us."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def wait(self, request: Request) -> None:
        """Queue for a slot; `PoolTimeoutError` after `timeout` seconds (not sent).

        Closing the transport ends the wait with its closed-in-flight error.
        """
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as the wait ended: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):  # give() may have dropped it already
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeoutError(
                    f"no free connection to {host(request.url)} within {self.timeout:g} s "
                    f"(all {self.size} in use; see limit=): the request was not sent"
                ) from None
            raise
        if self._closed:
            self.give()
            raise closed_in_flight(request)

    def close(self) -> None:
        """End every wait now (the transport is closing): each waiter then sees it closed."""
        self._closed = True
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def give(self) -> None:
        """Return a slot: to the first request still queueing, else to the free ones."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1
