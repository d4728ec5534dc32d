"""The SDK's own event loop, in a daemon thread: where every `SyncClient` runs its calls.

One loop per process, started on first use and shared by every sync client, so
threads share one connection pool per client and a call made from inside a
running event loop (a notebook cell) never nests loops. After `os.fork()` the
child starts a loop of its own on first use and leaves the parent's alone: its
selector and sockets are the parent's, and touching them would disturb it. At
interpreter exit the clients still open are closed and the loop stopped, so
nothing is left to complain on stderr.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import sys
import threading
from collections.abc import AsyncGenerator, Awaitable, Coroutine
from typing import Any, Protocol, TypeVar

from .handoff import Call, HandoffSelector

T = TypeVar("T")

#: How long interpreter exit waits for the open clients to close, in seconds.
EXIT_TIMEOUT = 5.0


class Closable(Protocol):
    def aclose(self) -> Awaitable[None]: ...


class LoopThread:
    """An event loop running forever in a daemon thread, and the clients open on it."""

    def __init__(self) -> None:
        self._handoff = HandoffSelector()
        self.loop = asyncio.SelectorEventLoop(self._handoff)
        self._handoff.bind(self.loop)
        #: Open clients, closed at interpreter exit if nobody closed them before.
        self.clients: set[Closable] = set()
        self.abandoned = False  # set in a forked child: this loop is the parent's
        self.stopped = False
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="ecomcharge-loop", daemon=True
        )
        self._thread.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result in this thread.

        If the wait is interrupted (Ctrl-C), the call is cancelled on the loop.
        """
        if threading.get_ident() == self._thread.ident:
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
        call = Call(coro)
        self._handoff.send(call)
        try:
            call.waiter.acquire()
        except BaseException:  # interrupted (Ctrl-C): the call is cancelled on the loop
            self.loop.call_soon_threadsafe(call.cancel)
            raise
        return call.outcome()

    def submit(self, coro: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None] | None:
        """Start `coro` on the loop without waiting; None if the loop is gone."""
        if self.abandoned or self.stopped:
            coro.close()
            return None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close_stream(self, stream: AsyncGenerator[Any, None]) -> None:
        """Close an async generator begun on this loop: at once, or soon if we cannot wait."""
        if (
            self.abandoned
            or self.stopped
            or sys.is_finalizing()  # the loop thread can no longer run: never wait for it
            or threading.get_ident() == self._thread.ident
        ):
            self.submit(_closed(stream))
        else:
            self.run(_closed(stream))

    def forget(self, client: Closable) -> None:
        """Close `client` soon, without waiting: its owner was dropped unclosed."""
        if client in self.clients:
            self.clients.discard(client)
            self.submit(_quietly(client.aclose()))

    def shutdown(self, timeout: float = EXIT_TIMEOUT) -> None:
        """Close the clients still open, then stop the loop and its thread."""
        if self.abandoned or self.stopped:
            return
        clients, self.clients = list(self.clients), set()
        closing = self.submit(_close_all(clients))
        if closing is not None:
            with contextlib.suppress(concurrent.futures.TimeoutError):
                closing.result(timeout)
        self.stopped = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


async def _closed(stream: AsyncGenerator[Any, None]) -> None:
    await stream.aclose()


async def _quietly(closing: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):
        await closing


async def _close_all(clients: list[Closable]) -> None:
    await asyncio.gather(*(_quietly(client.aclose()) for client in clients))
    await asyncio.get_running_loop().shutdown_asyncgens()


_lock = threading.Lock()
_current: LoopThread | None = None
#: Loops inherited from the parent process: kept, never touched, never collected.
_inherited: list[LoopThread] = []
#: Bumped in a forked child, so clients know their connections are the parent's.
generation = 0


def loop_thread() -> LoopThread:
    """This process's SDK loop, started on first use."""
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            _current = LoopThread()
        return _current


def _after_fork_in_child() -> None:
    global _current, _lock, generation
    _lock = threading.Lock()  # the parent's may have been held by a thread that is gone
    generation += 1
    if _current is not None:
        _current.abandoned = True
        _inherited.append(_current)
        _current = None


def _at_exit() -> None:
    if _current is not None:
        _current.shutdown()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
