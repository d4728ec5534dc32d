"""How a blocking call crosses to the SDK's loop thread and back: the cost every sync call pays.

A call is a task on the loop and a lock its caller waits on, released by the
task itself as it ends. Calls reach the loop through its selector: queued
there, they start as soon as the selector returns, in the same loop turn (a
`call_soon_threadsafe` callback would take a turn of its own to create the
task). The loop is woken through a socket of the selector's own only when it
waits in the selector, so threads calling while the loop is busy (32 threads
sharing a client) add no write and no read of a wake-up byte.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import selectors
import socket
from collections import deque
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Call(Generic[T]):
    """One blocking call: its coroutine, run as a task on the loop, and its caller's lock.

    Lighter than `asyncio.run_coroutine_threadsafe` (no concurrent Future, no
    condition variable, no done callback a loop turn later). Whatever the call
    raises, even `KeyboardInterrupt`, is caught on the loop and raised in the
    caller's thread.
    """

    __slots__ = ("coro", "dropped", "error", "result", "task", "waiter")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self.task: asyncio.Task[None] | None = None
        self.dropped = False
        self.result: T
        self.error: BaseException | None = None
        self.waiter = _thread.allocate_lock()
        self.waiter.acquire()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.dropped:  # cancelled before it started
            self.coro.close()
        else:
            self.task = loop.create_task(self._main())

    async def _main(self) -> None:
        try:
            self.result = await self.coro
        except BaseException as exc:  # handed to the caller, who raises it
            self.error = exc
        finally:
            self.waiter.release()

    def outcome(self) -> T:
        error = self.error
        if error is not None:
            self.error = None  # no cycle through the traceback
            raise error
        return self.result

    def cancel(self) -> None:
        """On the loop: nobody waits for the outcome now."""
        if self.task is None:
            self.dropped = True
        else:
            self.task.cancel()


class HandoffSelector(selectors.DefaultSelector):
    """The loop's selector, which also brings it the calls of other threads."""

    def __init__(self) -> None:
        super().__init__()
        self._loop: asyncio.AbstractEventLoop  # set by `bind`, before any call is sent
        self._incoming: deque[Call[Any]] = deque()
        self._waiting = False  # the loop thread is (about to be) blocked in `select`
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._wake_key = super().register(self._wake_in, selectors.EVENT_READ)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the calls on `loop`, the loop that selects with this selector."""
        self._loop = loop

    def send(self, call: Call[Any]) -> None:
        """From any thread: start `call` on the loop as soon as it looks up from its work.

        A call queued while the loop works is seen before it next blocks (it checks
        the queue after saying it waits, and the caller checks that it waits after
        queuing), so only a loop blocked or about to block needs the wake-up byte.
        """
        self._incoming.append(call)
        if self._waiting:
            # BlockingIOError: bytes already wait to be read, so it wakes anyway
            with contextlib.suppress(BlockingIOError):
                self._wake_out.send(b"\0")

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._waiting = True
        if self._incoming:
            timeout = 0
        try:
            ready: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        finally:
            self._waiting = False
            self._start_incoming()
        for index, (key, _) in enumerate(ready):
            if key is self._wake_key:  # ours, not the loop's: no handler to run
                del ready[index]
                self._wake_in.recv(4096)
                break
        return ready

    def _start_incoming(self) -> None:
        incoming = self._incoming
        while incoming:
            incoming.popleft().start(self._loop)

    def close(self) -> None:
        super().close()
        self._wake_in.close()
        self._wake_out.close()
