"""Rows read in a daemon thread, so a slow pipe blocks that thread and not the event loop.

`next()` on a pipe waits until the writer writes. On the event loop that wait
freezes every task: creates in flight, progress lines, timeouts, signal
handling. `ThreadedRows` reads in one thread of its own, and the loop takes
what was read in batches: one lock and at most one wake-up per batch, not per
row. At most `ahead` rows wait for the loop and `ahead` more are in the batch it
hands out, so memory stays bounded.

A thread blocked in a read cannot be interrupted: closing the file under it
does not wake it (and would wait for the read's lock). So it is a daemon thread
(it never keeps the process alive, and `asyncio.run` does not wait for it as it
waits for `asyncio.to_thread`'s), and `close(then)` hands the closing of the
file to it when a read is in progress: it closes the file as soon as that read
returns, and reads no further.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

#: How many rows the reader thread may hold that the import has not taken yet.
AHEAD = 256


class ThreadedRows(Generic[T]):
    """An async iterator over the blocking iterator `rows`, read in a daemon thread.

    Order and exceptions are those of `rows`: an exception it raises is raised
    by `__anext__` after the rows read before it, once; the iteration then
    ends. `stop()` ends the iteration at once, even while a row is awaited;
    `close(then)` also runs `then` (closing the file) once no read is in
    progress. One consumer at a time: one `async for`, as over any iterator.
    """

    def __init__(
        self, rows: Iterator[T], *, ahead: int = AHEAD, name: str = "ecomcharge-rows"
    ) -> None:
        if ahead < 1:
            raise ValueError(f"ahead must be at least 1 row, got {ahead}")
        self._rows = rows
        self._ahead = ahead
        self._name = name
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # the reader waits for room on it
        self._shared: deque[T] = deque()  # read and not taken yet: at most `ahead`
        self._taken: deque[T] = deque()  # taken by the loop, handed out one by one
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._finished = False  # the reader thread returned
        self._stopped = False  # no more rows wanted
        self._idle = True  # the reader thread is not in a read (not started, or waiting for room)
        self._then: Callable[[], object] | None = None

    def __aiter__(self) -> ThreadedRows[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            if self._stopped:
                raise StopAsyncIteration
            if self._taken:
                return self._taken.popleft()
            with self._lock:
                if self._shared:
                    self._shared, self._taken = self._taken, self._shared
                    self._room.notify()
                    continue
                if self._finished:
                    error, self._error = self._error, None
                    if error is not None:
                        raise error  # once: a later call ends the iteration
                    raise StopAsyncIteration
                if self._stopped:  # again, under the lock: `close` sees this waiter or none
                    raise StopAsyncIteration
                if self._loop is None:
                    self._start()
                assert self._loop is not None
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = False
        threading.Thread(target=self._read, name=self._name, daemon=True).start()

    def _wake(self) -> None:
        """On the loop: let a waiting `__anext__` look again."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_threadsafe(self) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._wake)

    # -- the reader thread -----------------------------------------------------------

    def _read(self) -> None:
        error: BaseException | None = None
        try:
            for row in self._rows:
                with self._lock:
                    if self._stopped:
                        return
                    self._shared.append(row)
                    if self._waiter is not None:  # before waiting for room: it makes room
                        self._wake_threadsafe()
                    while len(self._shared) >= self._ahead and not self._stopped:
                        self._idle = True
                        self._room.wait()
                        self._idle = False
                    if self._stopped:
                        return
        except BaseException as exc:  # handed to the loop, raised there
            error = exc
        finally:
            with self._lock:
                self._finished = self._idle = True
                self._error = error
                then, self._then = self._then, None
            self._wake_threadsafe()
            if then is not None:
                then()

    # -- stopping ------------------------------------------------------------------------

    def stop(self) -> None:
        """Want no more rows: a waiting or later `__anext__` ends the iteration."""
        self.close(None)

    def close(self, then: Callable[[], object] | None) -> None:
        """Stop, and run `then` now if no read is in progress, else when that read returns.

        May be called from any thread, also after the event loop has closed.
        """
        with self._lock:
            self._stopped = True
            self._room.notify()
            if then is not None and not self._idle:
                self._then = then
                then = None
            waiting = self._waiter is not None
        if waiting:
            self._wake_threadsafe()
        if then is not None:
            then()
