"""How many creates an import keeps in flight, and how fast it sends them.

`AdaptiveLimiter` finds both without a setting. Concurrency starts low and
doubles per round trip while answers come back without overload and latency
stays flat (TCP's slow start); a 503, a timeout or a refused connection halves
it, latency above twice the lowest seen shrinks it (a gradient, as in Netflix's
concurrency-limits), and past a cut it grows by about sqrt(limit) per round
trip. A 429 is a rate limit: sends are paced just below the rate the API
accepted while it answered 429, and every couple of seconds without a 429 the
pace probes upward in growing steps, as TCP BBR probes for bandwidth.
`FixedLimiter` is the same interface with the numbers given.

Bracket each request: `token = await limiter.acquire()`, then
`limiter.release(token, outcome_of(error))`. The clock and the sleep are
arguments: tests run on a fake clock.
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

#: Where an adaptive limit starts, and its ceiling unless told otherwise.
INITIAL_LIMIT = 8
MAX_LIMIT = 256


class Outcome(enum.Enum):
    """What came back, as far as the limiter cares."""

    OK = "ok"  #: an answer: created, or rejected for its own sake (422)
    RATE_LIMITED = "rate_limited"  #: 429
    OVERLOADED = "overloaded"  #: 503, 408, a timeout, a refused connection
    OTHER = "other"  #: anything that says nothing about load (500, cancelled)


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


class _Slots:
    """Concurrency slots under a moving limit, FIFO, and an optional even pace."""

    def __init__(self, limit: float, rate: float | None, clock: Callable[[], float], sleep: Sleep):
        self._limit = limit
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

    @property
    def limit(self) -> int:
        """The current concurrency limit, as a whole number of requests."""
        return max(1, int(self._limit))

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
        return Token(self._clock(), self.sending, self.cut_epoch, self.pace_epoch)

    def _free(self, sent: bool = True, wake: bool = True) -> None:
        self.in_flight -= 1
        self.sending -= sent
        if wake:
            self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def _set_limit(self, limit: float) -> None:
        self._limit = limit
        self.peak = max(self.peak, self.limit)
        self._wake()


class FixedLimiter(_Slots):
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


class AdaptiveLimiter(_Slots):
    """Concurrency and pace that follow the API's answers; never above `maximum`.

    `max_rate` caps the pace (requests per second) and paces from the start.
    """

    #: Latency above TOLERANCE times the lowest seen (over REFRESH s), and above
    #: TOLERANCE * FLOOR s, counts as queueing (below: our own CPU's, on a fast link).
    TOLERANCE, REFRESH, FLOOR = 2.0, 30.0, 0.020
    #: Successes count towards the accepted rate for WINDOW s; a pace younger than
    #: SETTLE s with fewer than SAMPLES answers is not measured yet: its 429s wait.
    WINDOW, SETTLE, SAMPLES = 2.0, 0.25, 20
    #: The pace sits MARGIN below the accepted rate, probes after PROBE_AFTER s, and
    #: never goes below MIN_PACE requests/s (probes double it from there).
    MARGIN, PROBE_AFTER, MIN_PACE = 0.95, 2.0, 1.0

    def __init__(
        self,
        *,
        initial: int = INITIAL_LIMIT,
        maximum: int = MAX_LIMIT,
        minimum: int = 1,
        max_rate: float | None = None,
        clock: Callable[[], float],
        sleep: Sleep,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {minimum} and {maximum}")
        if max_rate is not None and max_rate <= 0:
            raise ValueError(f"max_rate must be positive, got {max_rate}")
        initial = min(max(initial, minimum), maximum)
        super().__init__(initial, max_rate, clock, sleep)
        self.minimum = minimum
        self.maximum = maximum
        self.max_rate = max_rate
        self.threshold: float = float(maximum)  # slow start below it, gentle growth above
        self._latency: float | None = None  # a short moving average of answers
        self._lowest = self._lowest_before = math.inf
        self._lowest_since = clock()
        self._successes: deque[float] = deque()
        self._pace_since = clock()
        self._first_429: float | None = None
        self._step = 0.05
        self._cut_streak = False  # no success since the last cut

    def release(self, token: Token, outcome: Outcome) -> None:
        """Give the slot back; learn from what came back (a Retry-After is the caller's)."""
        now = self._clock()
        self._free(wake=False)  # woken below, once the limit has learnt from the outcome
        if outcome is Outcome.OK:
            self._on_answer(token, now)
        elif outcome is Outcome.RATE_LIMITED:
            self._on_rate_limited(token, now)
        elif outcome is Outcome.OVERLOADED:
            self._cut(token, 0.5)
        self._wake()

    # -- concurrency -------------------------------------------------------------------

    def _on_answer(self, token: Token, now: float) -> None:
        self._cut_streak = False
        self._successes.append(now)
        while self._successes[0] < now - self.WINDOW:
            self._successes.popleft()
        latency = now - token.sent_at
        if now - self._lowest_since > self.REFRESH:  # let the floor rise if the API slowed
            self._lowest_before, self._lowest, self._lowest_since = self._lowest, latency, now
        self._lowest = min(self._lowest, latency)
        weight = 1.0 if self._latency is None else 1.0 / max(self._limit, 10.0)  # a round trip
        average = self._latency = (1 - weight) * (self._latency or 0.0) + weight * latency
        floor = max(self.FLOOR, min(self._lowest, self._lowest_before))
        if average > self.TOLERANCE * floor:
            self._cut(token, max(0.5, self.TOLERANCE * floor / average))
        elif 2 * token.in_flight >= self.limit or (self._waiters and self.rate is None):
            # Only a limit in use may grow: half of it was sent, or sends wait for it.
            step = 1.0 if self._limit < self.threshold else math.sqrt(self._limit) / self._limit
            self._set_limit(min(self.maximum, self._limit + step))
        if self.rate is not None and now - self._pace_since >= self.PROBE_AFTER:
            self._probe(now)

    def _cut(self, token: Token, factor: float) -> None:
        """Shrink the limit, once per round trip: answers to older sends are old news."""
        if token.cut_epoch != self.cut_epoch:
            return
        self.cut_epoch += 1
        if not self._cut_streak:  # a long outage keeps where to slow-start back to
            self.threshold = max(self.minimum, self._limit * 0.5)
        self._cut_streak = factor == 0.5
        self._limit = max(self.minimum, self._limit * factor)

    # -- pace ---------------------------------------------------------------------------

    def _on_rate_limited(self, token: Token, now: float) -> None:
        if token.pace_epoch != self.pace_epoch:
            return  # sent before the pace last changed
        if self.rate is None and self._first_429 is None:
            self._first_429 = now  # measure from here, the bucket empty; send half as many
            self._cut(token, 0.5)
            return
        since = self._pace_since if self.rate is not None else self._first_429
        assert since is not None
        if self._successes:  # the first answers, not the limiter's creation, start a window
            since = max(since, min(self._successes[0], now - self.WINDOW))
        age = now - since
        got_through = sum(1 for t in self._successes if t >= since)
        if age < self.SETTLE and got_through < self.SAMPLES:
            return  # too young to judge: measure it first
        accepted = got_through / age
        if accepted > 0:
            pace = self.MARGIN * accepted  # what got through while 429s were answered
            self._step = 0.05
        else:  # nothing got through: halve the rate sent at, and probe back fast
            pace = 0.5 * (self.rate or token.in_flight / (self._latency or age))
            self._step = 1.0
        if self.rate is not None:
            pace = min(pace, self.rate * self.MARGIN)
        self.threshold = min(self.threshold, max(self.minimum, self._limit))
        self._set_pace(max(pace, self.MIN_PACE), now)

    def _probe(self, now: float) -> None:
        """No 429 for a while: ask for more, in steps that grow while the answers hold."""
        assert self.rate is not None
        if now - self._paced_at > self.WINDOW:  # the pace is not what holds us back
            self._pace_since = now
            return
        pace = self.rate * (1 + self._step)
        self._step = min(2 * self._step, 1.0)
        self._set_pace(pace, now)

    def _set_pace(self, pace: float, now: float) -> None:
        if self.max_rate is not None:
            pace = min(pace, self.max_rate)
        self.rate = pace
        self.pace_epoch += 1
        self._pace_since = now
