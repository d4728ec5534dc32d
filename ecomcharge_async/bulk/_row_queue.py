"""The importer's queue of rows: what it used of `asyncio.Queue`, a few calls a row.

Through `asyncio.Queue` a row cost the importer about 17 Python calls (`qsize` six
times, `full`, `empty` and `_wakeup_next` twice each, ...); here it is three (`put`,
`take`, `task_done`), the length is read off `items`, and the queue wakes the feeder
itself once a full queue was half taken (the event the importer kept for it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class RowQueue(Generic[T]):
    """A FIFO of rows for the workers, with `join` for the rows taken and not yet done.

    `put` never waits: the feeder checks `full()` and awaits `room()`, which returns
    once a full queue is down to half (so the feeder refills it in one go).
    """

    def __init__(self, maxsize: int) -> None:
        self.items: deque[T] = deque()
        self.maxsize = maxsize
        self._low = maxsize // 2
        self.unfinished = 0  # put and not yet `task_done`
        self._getters: deque[asyncio.Future[None]] = deque()
        self._room: asyncio.Future[None] | None = None  # the feeder, waiting for room
        self._joined: asyncio.Future[None] | None = None

    def full(self) -> bool:
        return len(self.items) >= self.maxsize

    def put(self, item: T) -> None:
        self.items.append(item)
        self.unfinished += 1
        if self._getters:
            self._wake_getter()

    def take(self) -> T:
        """The first row (there must be one); the feeder is woken once half is taken."""
        item = self.items.popleft()
        room = self._room
        if room is not None and len(self.items) <= self._low and not room.done():
            room.set_result(None)
        return item

    async def get(self) -> T:
        """The first row, once there is one."""
        while not self.items:
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(waiter)
                if self.items and not waiter.cancelled():
                    self._wake_getter()  # woken, then cancelled: the row goes to another
                raise
        return self.take()

    def _wake_getter(self) -> None:
        getters = self._getters
        while getters:
            waiter = getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def room(self) -> None:
        """Return once the queue is not full: at once, or when half of it was taken."""
        while self.full():
            self._room = asyncio.get_running_loop().create_future()
            try:
                await self._room
            finally:
                self._room = None

    def task_done(self) -> None:
        """One row taken is done; ValueError if more than were put (as asyncio.Queue)."""
        if self.unfinished <= 0:  # as asyncio.Queue: a miscount would hang `join`
            raise ValueError("task_done() called more times than rows were put")
        self.unfinished -= 1
        joined = self._joined
        if not self.unfinished and joined is not None and not joined.done():
            joined.set_result(None)

    async def join(self) -> None:
        """Return once every row put was `task_done` (one task joins at a time)."""
        while self.unfinished:
            self._joined = asyncio.get_running_loop().create_future()
            try:
                await self._joined
            finally:
                self._joined = None
