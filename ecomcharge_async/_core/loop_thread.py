"""The SDK's own event loop, and who runs it: the calling thread itself, or the SDK's loop thread.

A sync call pays most for thread switches: the caller sleeps until the answer,
a loop thread sleeps waiting for the server and again once the call is done.
So the loop is parked while no call is in flight, and a caller that finds it
parked runs it in its own thread for its call (it leads). Calls of other
threads arriving meanwhile reach that same loop through its selector and run
there; when the leader's call is over and others are still in flight, the
loop goes to the SDK's loop thread, which runs it until no call is left and
parks it again. The loop thread, not a waiting caller, takes over because it
is always there, always able to run the loop and has no call of its own to
return to: one hand-over, and nobody's call waits on another's return.

A thread whose own event loop runs (a notebook cell, async code calling sync
code) cannot run a second one: it follows, handing its call to the loop thread
(woken if the loop was parked). So does the main thread when a SIGINT handler of
the application's own could raise inside the loop (see `interrupt`).

Who runs the loop is whoever holds `_claim`, a lock taken without waiting: a
caller queues its call first, then tries to take the loop; a holder about to
park it lets go of the lock, then looks once more for calls queued meanwhile.
So every queued call is seen by a thread running the loop, with no lock on the
way of a call that the loop is already busy with (32 threads), and nothing a
finalizer may call (`submit`, to close a dropped client or stream) waits on a
lock. Between taking the loop and running it (or parking it and letting go),
a holder allocates nothing, so no finalizer can run there and wait for a loop
that its own thread holds.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import sys
import threading
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Coroutine
from typing import Any, Protocol, TypeVar

from .handoff import Call, HandoffSelector
from .interrupt import SigintGuard

T = TypeVar("T")

_running_loop = asyncio._get_running_loop  # the loop running in this thread, or None


class Closable(Protocol):
    def aclose(self) -> Awaitable[None]: ...


class LoopThread:
    """An event loop, parked or run by one thread at a time, and the daemon thread that runs it
    when no caller does."""

    def __init__(self) -> None:
        self._handoff = HandoffSelector()
        self.loop = asyncio.SelectorEventLoop(self._handoff)
        self._handoff.bind(self.loop)
        #: Open clients, closed at interpreter exit if nobody closed them before.
        self.clients: set[Closable] = set()
        self.abandoned = False  # set in a forked child: this loop is the parent's
        self.stopped = False
        self._claim = _thread.allocate_lock()  # held by the thread running the loop, if any
        self._holder: int | None = None  # that thread's id, set by it once it holds `_claim`
        self._submitted: deque[Call[Any]] = deque()  # submitted, to be started by the holder
        self._baton = _thread.allocate_lock()  # released to wake the loop thread
        self._baton.acquire()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._serve, name="ecomcharge-loop", daemon=True)
        self._thread.start()
        self._thread_id = self._thread.ident

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and return its result, in this thread.

        If the wait is interrupted (Ctrl-C), the call is cancelled on the loop.
        """
        running = _running_loop()
        me = _thread.get_ident()
        if running is self.loop or self._holder == me:  # the second: from a finalizer, say
            coro.close()
            raise RuntimeError(
                "a SyncClient was called on the SDK's own event loop (from a middleware "
                "or a callback?); there, await the async Client instead"
            )
        if self.abandoned or self.stopped:
            coro.close()
            raise RuntimeError(
                "the SDK's event loop is gone (stopped at exit, or this call was begun "
                "in the parent before os.fork()); start the call again"
            )
        call = Call(coro, self._finished)
        guard = None
        # From here on whatever stops this thread before the call's outcome (Ctrl-C under
        # an application's handler, which raises anywhere, even before the wait) cancels it.
        try:
            if me != self._main:
                if self._send(call, may_lead=running is None):
                    return self._lead(call, guard)
            else:  # where Ctrl-C lands: from here on it cancels (see `interrupt`)
                guard = SigintGuard(lambda: self.loop.call_soon_threadsafe(call.cancel))
                if running is None and guard.install():
                    if self._send(call, may_lead=True):
                        return self._lead(call, guard)
                else:  # Ctrl-C may raise anywhere: this thread never holds the loop
                    self._queue(call)
                guard.remove()
                if guard.interrupted:
                    raise KeyboardInterrupt
            call.waiter.acquire()
        except BaseException:
            if guard is not None:
                guard.remove()
            if not call.done and not self.stopped:
                self.loop.call_soon_threadsafe(call.cancel)
            raise
        return call.outcome()

    def _send(self, call: Call[Any], *, may_lead: bool) -> bool:
        """Hand `call` to the loop; whether this thread is to run the loop for it (it was
        parked and `may_lead`: a parked loop otherwise goes to the loop thread)."""
        self._handoff.send(call)
        if not self._claim.acquire(False):
            return False
        if may_lead:
            self._holder = _thread.get_ident()
            return True
        self._hand_to_loop_thread()
        return False

    def _lead(self, call: Call[T], guard: SigintGuard | None) -> T:
        """Run the loop in this thread until `call` (queued) is over, then park it or hand it
        over. It starts after what reached the loop while it was parked (see `handoff`)."""
        try:
            call.led = True
            while not call.done and not self.stopped:
                self.loop.run_forever()  # stopped when the call is over
        finally:
            call.led = False
            if self.stopped or not self._park():
                self._hand_to_loop_thread()
            if not call.done:  # interrupted, or the loop stopped at exit: whoever runs it cancels
                with contextlib.suppress(RuntimeError):  # closed at exit meanwhile
                    self.loop.call_soon_threadsafe(call.cancel)
            if guard is not None:
                guard.remove()
        if guard is not None and guard.interrupted:
            raise KeyboardInterrupt
        if not call.done:  # the loop stopped at exit: a daemon thread waits here for the end
            call.waiter.acquire()
        return call.outcome()

    def _idle(self) -> bool:
        return self._handoff.idle() and not self._submitted

    def _park(self) -> bool:
        """By the holder, the loop stopped: let go of it if no call is left; False if one is
        (then it still holds the loop)."""
        if not self._idle():
            return False
        self._holder = None
        self._handoff.resting = True
        self._claim.release()
        # A call queued before the release but after the look above found the lock
        # taken, and relies on us: take the loop back, unless its caller took it.
        if self._idle() or not self._claim.acquire(False):
            return True
        self._holder = self._thread_id  # the leader hands it over next
        return False

    def _hand_to_loop_thread(self) -> None:
        """By the holder: the loop thread runs the loop from here."""
        self._holder = self._thread_id
        self._nudge()

    def _finished(self, call: Call[Any]) -> None:
        """On the loop, as a call ends: the leader's own ends its run; the last one stops the
        loop thread's, to park it."""
        self._handoff.running -= 1
        if call.led or (self._holder == self._thread_id and self._idle()):
            self.loop.stop()

    def _nudge(self) -> None:
        try:  # no `with`: nothing allocated, so no finalizer runs before the release
            self._baton.release()
        except RuntimeError:  # already released: it wakes anyway
            return

    def _serve(self) -> None:
        """The loop thread: wait until the loop is handed over (or work comes while it is
        parked), run it until no call is left, park it."""
        me = _thread.get_ident()
        while not self.stopped:
            if self._holder == me or (self._submitted and self._claim.acquire(False)):
                self._holder = me
                self._drive()
            else:
                self._baton.acquire()

    def _drive(self) -> None:
        """Run the loop while calls are in flight, then park it (or until it stops for good)."""
        while not self.stopped:
            self._take_submitted()
            if self._park():
                return
            self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Call[Any] | None:
        """Start `coro` on the loop without waiting (and without a lock: finalizers call it);
        None if the loop is gone. Its lock is released when it is over."""
        if self.abandoned or self.stopped:
            coro.close()
            return None
        call: Call[Any] = Call(coro, self._finished)
        self._queue(call)
        return call

    def _queue(self, call: Call[Any]) -> None:
        """Start `call` on the loop, by whoever holds it, or by the loop thread if it is parked."""
        self._submitted.append(call)
        with contextlib.suppress(RuntimeError):  # closed: nothing runs it any more
            self.loop.call_soon_threadsafe(self._take_submitted)  # started at once if the loop runs
        self._nudge()  # and if it is parked, the loop thread runs it

    def _take_submitted(self) -> None:
        """By the thread holding the loop: queue what was submitted."""
        later = self._submitted
        while later:
            self._handoff.send(later.popleft())

    def close_stream(self, stream: AsyncGenerator[Any, None]) -> None:
        """Close an async generator begun on this loop: at once, or soon if we cannot wait."""
        if (
            self.abandoned
            or self.stopped
            or sys.is_finalizing()  # the loop thread can no longer run: never wait for it
            or _running_loop() is self.loop
            or self._holder == _thread.get_ident()  # this thread holds the loop: it cannot wait
            or _thread.get_ident() == self._thread_id  # the loop thread: it may be asked to run it
        ):
            self.submit(_closed(stream))
        else:
            self.run(_closed(stream))

    def forget(self, client: Closable) -> None:
        """Close `client` soon, without waiting: its owner was dropped unclosed."""
        if client in self.clients:
            self.clients.discard(client)
            self.submit(_quietly(client.aclose()))

    def shutdown(self, timeout: float) -> None:
        """Close the clients still open, then stop the loop and its thread."""
        if self.abandoned or self.stopped:
            return
        clients, self.clients = list(self.clients), set()
        closing = self.submit(_close_all(clients))
        if closing is not None:
            closing.waiter.acquire(timeout=timeout)
        self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        """Stop the loop and its thread, whoever runs it; close it once nobody does."""
        self.stopped = True
        if self._claim.acquire(False):  # parked: the loop thread takes it, only to leave
            self._hand_to_loop_thread()
        else:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive() and not self.loop.is_running():
            self.loop.close()


async def _closed(stream: AsyncGenerator[Any, None]) -> None:
    await stream.aclose()


async def _quietly(closing: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):
        await closing


async def _close_all(clients: list[Closable]) -> None:
    await asyncio.gather(*(_quietly(client.aclose()) for client in clients))
    await asyncio.get_running_loop().shutdown_asyncgens()
