"""Requests in flight under a limit, FIFO, at an optional even pace; what an answer says.

`Slots` is the mechanics every limiter shares; `FixedLimiter` is it with the
numbers given (`--concurrency 64`), `_limiter.AdaptiveLimiter` with numbers
that follow the API's answers. Bracket each request: `token = await
limiter.acquire()`, then `limiter.release(token, outcome_of(error))`. The
clock and the sleep are arguments: tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from .._core.errors import APIConnectionError, APIError, PoolTimeoutError, RateLimitError

Sleep = Callable[[float], Awaitable[Any]]


class Outcome(enum.Enum):
    """What came back, as far as the limiter cares."""

    OK = "ok"  #: an answer: created, or rejected for its own sake (422)
    RATE_LIMITED = "rate_limited"  #: 429
    OVERLOADED = "overloaded"  #: 503, 408, a timeout, a refused connection
    OTHER = "other"  #: anything that says nothing about load (500, cancelled)


#: The members each send reads, as names: on Python 3.11 a member read off its enum class
#: is a slow lookup (about 1,000 instructions; a module name: 30).
OK, OTHER = Outcome.OK, Outcome.OTHER

_OVERLOAD_STATUSES = frozenset({408, 502, 503, 504})  #: the API, or a proxy, overloaded or out


def outcome_of(error: BaseException | None) -> Outcome:
    """What a create's answer (None: it succeeded) tells a limiter."""
    if error is None:
        return Outcome.OK
    if isinstance(error, RateLimitError):
        return Outcome.RATE_LIMITED
    if isinstance(error, APIError):
        if error.status in _OVERLOAD_STATUSES:
            return Outcome.OVERLOADED
        return Outcome.OK if error.status < 500 else Outcome.OTHER  # 422: answered in time
    if isinstance(error, APIConnectionError) and not isinstance(error, PoolTimeoutError):
        return Outcome.OVERLOADED  # a timeout, a refused or dropped connection
    return Outcome.OTHER  # our own pool's wait, an unreadable body, a cancellation


class Token(NamedTuple):
    """One send's ticket: when it left and under which limits, for `release`."""

    sent_at: float
    in_flight: int
    cut_epoch: int
    pace_epoch: int


#: Makes a `Token` without its class's `__new__`, a Python function: a microsecond a send.
_new_tuple = tuple.__new__


class Slots:
    """Concurrency slots under a moving limit, FIFO, and an optional even pace."""

    def __init__(self, limit: float, rate: float | None, clock: Callable[[], float], sleep: Sleep):
        self._limit_to(limit)
        self.rate = rate
        self.peak: int = int(limit)
        self.in_flight: int = 0  # slots taken, some maybe still waiting for the pace
        self.sending: int = 0  # requests sent and not yet answered
        self._clock = clock
        self._sleep = sleep
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._next_send = -math.inf
        self._paced_at = -math.inf  # when a send last had to wait for the pace
        self.cut_epoch = 0
        self.pace_epoch = 0

    def _limit_to(self, limit: float) -> None:
        """Sets the limit: `_limit` may be a fraction (it grows by sqrt), `limit` is the
        whole number of requests it lets be in flight (an attribute: read a few times a row)."""
        self._limit = limit
        self.limit: int = max(1, int(limit))

    def acquire_now(self) -> Token | None:
        """`acquire` when it would not wait (a free slot, none queued, no pace), else None:
        no coroutine made for the usual case."""
        if self.in_flight >= self.limit or self._waiters or self.rate is not None:
            return None
        self.in_flight += 1
        self.sending += 1
        return _new_tuple(Token, (self._clock(), self.sending, self.cut_epoch, self.pace_epoch))

    async def acquire(self) -> Token:
        """Wait for a free slot, then for the pace; the slot is yours until `release`."""
        if self.in_flight >= self.limit or self._waiters:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._free(sent=False)  # handed a slot just as we were cancelled: give it on
                elif waiter in self._waiters:  # `_wake` may have dropped it already
                    self._waiters.remove(waiter)
                raise
        else:
            self.in_flight += 1
        try:
            if self.rate is not None:
                now = self._clock()
                slot = max(now, self._next_send)
                self._next_send = slot + 1.0 / self.rate
                if slot > now:
                    self._paced_at = now
                    await self._sleep(slot - now)
        except BaseException:
            self._free(sent=False)
            raise
        self.sending += 1
        return _new_tuple(Token, (self._clock(), self.sending, self.cut_epoch, self.pace_epoch))

    def _free(self, sent: bool = True) -> None:
        self.in_flight -= 1
        self.sending -= sent
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def _set_limit(self, limit: float) -> None:
        self._limit_to(limit)
        self.peak = max(self.peak, self.limit)
        self._wake()


class FixedLimiter(Slots):
    """A fixed concurrency, and a fixed pace when `rate` (requests per second) is given."""

    def __init__(
        self,
        concurrency: int,
        *,
        rate: float | None = None,
        clock: Callable[[], float],
        sleep: Sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        super().__init__(concurrency, rate, clock, sleep)
        self.maximum = concurrency

    def release(self, token: Token, outcome: Outcome) -> None:
        """Give the slot back; a fixed limiter learns nothing from the outcome."""
        self._free()
