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

The way back costs thread switches too. A caller woken while the loop's thread
holds the GIL sleeps once more, on the GIL; with 32 threads, woken at once as
their calls end, most did, and the loop's thread waited for them in turn. So
the callers of other threads are woken in a relay (`WakeRelay`): one at a time,
the first when the loop's thread is about to wait in `select` (letting go of the
GIL), each of the others by the caller woken before it, which wakes it as it
leaves. Not the main thread's: Ctrl-C could land between its wake-up and its
passing the relay on, and stall the others; it is woken at once as before.
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
    runs on the loop once the call is over, started or not, and returns whether
    the relay wakes the caller (later) instead of a release at once; `led` marks
    the call of the thread running the loop for it, `relayed` (set by its caller
    before it waits) one whose caller takes part in the relay, `woken_by_relay`
    one whose caller must pass the relay on.
    """

    __slots__ = (
        "context",
        "coro",
        "dropped",
        "error",
        "finished",
        "led",
        "relayed",
        "result",
        "task",
        "waiter",
        "woken_by_relay",
    )

    def __init__(
        self, coro: Coroutine[Any, Any, T], finished: Callable[[Call[Any]], bool] | None = None
    ) -> None:
        self.coro = coro
        # Run in its caller's context variables (a tracing span, say), not those of
        # whichever thread runs the loop meanwhile.
        self.context = contextvars.copy_context()
        self.finished = finished
        self.led = False
        self.relayed = False
        self.woken_by_relay = False
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
        if self.finished is None or not self.finished(self):
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


#: Loop turns that may go by without a `select` that waits before the relay starts anyway.
RELAY_PATIENCE = 3


class WakeRelay:
    """Wakes the callers of finished calls one at a time: the loop's thread wakes the first, as
    it lets go of the GIL; each woken caller wakes the next as it leaves.

    Whoever holds `_baton` (a lock taken without waiting) is the one to wake the
    next caller: the loop's thread starting the relay, then each caller it wakes.
    The last one lets go of it, then looks once more for a call that finished
    meanwhile, so no finished call is left unwoken.
    """

    __slots__ = ("_baton", "_finished", "_held_back")

    def __init__(self) -> None:
        self._finished: deque[Call[Any]] = deque()
        self._baton = _thread.allocate_lock()
        self._held_back = 0  # loop turns the relay waited for a `select` that waits

    def add(self, call: Call[Any]) -> None:
        """On the loop: `call` is over; its caller is to be woken by the relay."""
        self._finished.append(call)

    def start(self, busy: bool) -> None:
        """By the thread running the loop, about to `select` or park it: wake the first caller,
        unless a relay is under way. `busy`: the loop will not wait in this `select` (and
        so keeps the GIL); then the relay waits for a `select` that does, a few turns at most."""
        if not self._finished:
            return
        if busy and self._held_back < RELAY_PATIENCE:
            self._held_back += 1
            return
        if self._baton.acquire(False):
            self._held_back = 0
            _wake(self._finished.popleft())

    def pass_on(self) -> None:
        """By a caller the relay woke, as it leaves: wake the next one, or end the relay."""
        finished = self._finished
        if finished:
            _wake(finished.popleft())
            return
        self._baton.release()
        if finished and self._baton.acquire(False):  # finished meanwhile
            _wake(finished.popleft())


def _wake(call: Call[Any]) -> None:
    call.woken_by_relay = True
    call.waiter.release()


class HandoffSelector(selectors.DefaultSelector):
    """The loop's selector, which also brings it the calls of other threads."""

    def __init__(self) -> None:
        super().__init__()
        self._loop: asyncio.AbstractEventLoop  # set by `bind`, before any call is sent
        self._incoming: deque[Call[Any]] = deque()
        #: Wakes the callers of other threads as their calls end (see `WakeRelay`).
        self.relay = WakeRelay()
        #: Calls started on the loop and not over yet: counted by whoever runs the loop.
        self.running = 0
        #: Set while the loop stands still: its next `select` lets the I/O go first.
        self.resting = False
        self._waiting = False  # the loop's thread is (about to be) blocked in `select`
        self._nudged = False  # a wake-up byte was sent for this `select`: one is enough
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
        if self._waiting and not self._nudged:
            self._nudged = True
            # BlockingIOError: bytes already wait to be read, so it wakes anyway
            with contextlib.suppress(BlockingIOError):
                self._wake_out.send(b"\0")

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.relay.start(busy=timeout == 0 or bool(self._incoming))
        self._waiting = True
        if self._incoming:
            timeout = 0
        try:
            ready: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        finally:
            self._waiting = False
            self._nudged = False
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
