"""Waking the callers whose calls are over one at a time, so that each finds the GIL free.

With 32 threads sharing the loop, a caller woken while the thread running the
loop still works only wakes to wait for the GIL: two thread switches more per
call than its own sleep and wake-up. So the calls that end are queued here; the
thread running the loop wakes the first as it is about to wait for I/O, and each
woken caller wakes the next before anything else (both take a call off the
deque, an atomic step: no caller is woken twice).

A caller may fail between its wake-up and waking the next (an asynchronous
exception from a thread-timeout library, say); nothing it does can stall the
others. The thread running the loop stays responsible: it never waits longer
than `STALL` while a woken caller is owed, and if none has woken the next since
it last looked it wakes one itself; before it parks the loop or stops, it wakes
them all. A broken chain costs the others at most one short wait.
"""

from __future__ import annotations

import _thread
import time
from collections import deque

#: Longest the thread running the loop waits for a woken caller to wake the next, in seconds.
STALL = 0.001

_monotonic = time.monotonic


class WakeUpRelay:
    """The callers owed a wake-up, woken one after another."""

    __slots__ = ("_owed", "_passes", "_seen", "_since", "running")

    def __init__(self) -> None:
        self._owed: deque[_thread.LockType] = deque()
        self._passes = 0  # wake-ups so far, by anyone (a count that may miss one: only compared)
        self._seen = 0  # `_passes` when the thread running the loop last looked
        self._since = 0.0  # when it last saw the relay move on
        #: A caller was woken and is expected to wake the next.
        self.running = False

    def owe(self, waiter: _thread.LockType) -> None:
        """On the loop, as a call ends: its caller waits on `waiter`, to be woken in turn."""
        self._owed.append(waiter)

    def pass_on(self) -> None:
        """By a woken caller first of all (or the loop's thread): wake the next caller owed."""
        try:
            waiter = self._owed.popleft()
        except IndexError:
            self.running = False
            return
        self._passes += 1
        waiter.release()

    def tend(self, timeout: float | None) -> float | None:
        """By the thread running the loop, about to wait for I/O at most `timeout`: start the
        relay, or take it over if it stalled; how long it may wait now."""
        if not self._owed:
            return timeout
        now = _monotonic()
        if self._passes != self._seen:  # a woken caller woke the next since the last look
            self._seen = self._passes
            self._since = now
        if not self.running or now - self._since >= STALL:
            self.running = True
            self._since = now
            self.pass_on()
        return STALL if timeout is None or timeout > STALL else timeout

    def wake_all(self) -> None:
        """By the thread running the loop, before it lets go of it: nobody may be left owed."""
        owed = self._owed
        while owed:
            try:
                waiter = owed.popleft()
            except IndexError:  # a woken caller took the last one meanwhile
                return
            waiter.release()
