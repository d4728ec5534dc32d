"""`Deadlines`: each call in flight ended at its deadline, with one timer for them all.

aiohttp's per-request `total` timeout costs a timer handle, a timeout handle
and a timer context per request (about 6% of a create's CPU). A transport
that bounds its attempts itself registers each call here instead: one dict
entry on the way in, one removal on the way out, and a single loop timer set
for the earliest deadline. Calls of one transport mostly share one timeout,
so a later call's deadline is later too and the timer is rarely moved; when
it fires it ends the calls that are due and is set again for the next one.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

#: How long after its deadline a call is ended: the HTTP library's own connect
#: bound, set to the same timeout but started a moment later, fires first, so a
#: connection that never opened still reads as "not sent" (see AiohttpTransport).
GRACE = 0.05


class Deadlines:
    """Calls in flight and their deadlines (loop time); `took` tells those it ended.

    An ended call's task is cancelled once; the transport turns that
    cancellation into its timeout error (`took`) and leaves a cancellation of
    the caller's own alone.
    """

    __slots__ = ("_at", "_due", "_expired", "_timer")

    def __init__(self) -> None:
        self._due: dict[asyncio.Task[Any], float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf  # when the timer fires (inf: not set)
        self._expired: set[asyncio.Task[Any]] = set()

    def add(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], seconds: float) -> None:
        """Ends `task` (cancels it) if it is still here `seconds` (plus `GRACE`) from now."""
        when = loop.time() + seconds + GRACE
        self._due[task] = when
        if when < self._at:
            self._arm(loop, when)

    def discard(self, task: asyncio.Task[Any]) -> bool:
        """The call is over: no deadline for `task` any more. Returns whether any call
        ended by its deadline is still to be asked about (`took`): if not, `task` was not."""
        self._due.pop(task, None)
        return bool(self._expired)

    def took(self, task: asyncio.Task[Any]) -> bool:
        """Whether `task` was ended by its deadline (forgotten once asked)."""
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def close(self) -> None:
        """Stops the timer (the transport is closing); no call is ended any more."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = None, math.inf
        self._due.clear()

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire, loop)
        self._at = when

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        due_by, self._timer, self._at = self._at, None, math.inf
        following = math.inf
        for task, when in list(self._due.items()):
            if when <= due_by:
                del self._due[task]
                self._expired.add(task)
                task.cancel()
            elif when < following:
                following = when
        if following < math.inf:
            self._arm(loop, following)


def only_ours(task: asyncio.Task[Any], ours: int, before: int = 0) -> bool:
    """Undoes `ours` cancellations of `task` made by the transport (by `aclose()`, by a
    deadline); whether they were all it had since the call began (`before`: its count of
    cancellations then, as a task cleaning up after one of its own has), none its caller's."""
    left = -1
    for _ in range(ours):
        left = task.uncancel()
    return ours > 0 and left <= before
