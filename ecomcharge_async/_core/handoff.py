"""How a blocking call reaches the SDK's loop, whoever runs it, and back: what every sync call pays.

A call is a task on the loop and a lock its caller may wait on, released by the
task itself as it ends. Calls reach the loop through its selector: queued
there, they start as soon as the selector returns (a `call_soon_threadsafe`
callback would take a turn of its own to create the task). The loop is woken
through a socket of the selector's own only when it waits in the selector, so
threads calling while the loop is busy (32 threads sharing a client) add no
write and no read of a wake-up byte. After the loop stood still (parked, see
`loop_thread`), I/O may wait for it, a server closing an idle keep-alive
connection say: its first `select` then has the loop dispatch that before the
calls start, so no call picks a connection the loop has not yet seen closed.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import contextvars
import selectors
import socket
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Call(Generic[T]):
    """One blocking call: its coroutine, run as a task on the loop, and its caller's lock.

    Lighter than `asyncio.run_coroutine_threadsafe` (no concurrent Future, no
    condition variable, no done callback a loop turn later). Whatever the call
    raises, even `KeyboardInterrupt`, is caught on the loop and raised in the
    caller's thread, and it runs in its caller's context variables. `finished`
    runs on the loop once the call is over, started or not; `led` marks the call
    of the thread running the loop for it.
    """

    __slots__ = (
        "context",
        "coro",
        "dropped",
        "error",
        "finished",
        "led",
        "result",
        "task",
        "waiter",
    )

    def __init__(
        self, coro: Coroutine[Any, Any, T], finished: Callable[[Call[Any]], None] | None = None
    ) -> None:
        self.coro = coro
        # Run in its caller's context variables (a tracing span, say), not those of
        # whichever thread runs the loop meanwhile.
        self.context = contextvars.copy_context()
        self.finished = finished
        self.led = False
        self.task: asyncio.Task[None] | None = None
        self.dropped = False
        self.result: T
        self.error: BaseException | None = None
        self.waiter = _thread.allocate_lock()
        self.waiter.acquire()

    @property
    def done(self) -> bool:
        return not self.waiter.locked()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.dropped:  # cancelled before it started
            self.coro.close()
            self.error = asyncio.CancelledError()
            self._end()
        else:
            self.task = loop.create_task(self._main(), context=self.context)

    async def _main(self) -> None:
        try:
            self.result = await self.coro
        except BaseException as exc:  # handed to the caller, who raises it
            self.error = exc
        finally:
            self._end()

    def _end(self) -> None:
        self.waiter.release()
        if self.finished is not None:
            self.finished(self)

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
        #: Calls started on the loop and not over yet: counted by whoever runs the loop.
        self.running = 0
        #: Set while the loop stands still: its next `select` lets the I/O go first.
        self.resting = False
        self._waiting = False  # the loop's thread is (about to be) blocked in `select`
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
        for index, (key, _) in enumerate(ready):
            if key is self._wake_key:  # ours, not the loop's: no handler to run
                del ready[index]
                self._wake_in.recv(4096)
                break
        if self.resting:
            self.resting = False
            if ready and self._incoming:  # the I/O callbacks run, then the calls' first steps
                self._loop.call_soon(self._start_incoming)
                return ready
        self._start_incoming()
        return ready

    def idle(self) -> bool:
        """No call running on the loop, none waiting to start."""
        return not self.running and not self._incoming

    def _start_incoming(self) -> None:
        incoming = self._incoming
        while incoming:
            self.running += 1  # less one when the call is over (its `finished`)
            incoming.popleft().start(self._loop)

    def close(self) -> None:
        super().close()
        self._wake_in.close()
        self._wake_out.close()
