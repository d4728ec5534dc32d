"""How many creates an import keeps in flight, and how fast it sends them, without a setting.

`AdaptiveLimiter` starts low and doubles its concurrency per round (a round
trip, 0.1 s at the least) while answers come back without overload and latency
stays flat (TCP's slow start); a 503, a timeout or a refused connection halves
it, latency above twice the lowest seen shrinks it (a gradient, as in Netflix's
concurrency-limits), and past a cut or a plateau it grows by about sqrt(limit)
per round. Growth stops where
more requests in flight stop buying answers per second (`ThroughputMeter`):
on a fast link the client's own CPU, not latency, is what runs out, and each
request more in flight only costs more CPU per row. Every few seconds it tries
growing again. A 429 is a rate limit: sends are paced just below the rate the
API accepted while it answered 429, and every couple of seconds without a 429
the pace probes upward in growing steps, as TCP BBR probes for bandwidth.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from ._slots import OK, Outcome, Sleep, Slots, Token
from ._throughput import Round, ThroughputMeter

#: Where an adaptive limit starts, and its ceiling unless told otherwise.
INITIAL_LIMIT = 8
MAX_LIMIT = 256


class AdaptiveLimiter(Slots):
    """Concurrency and pace that follow the API's answers; never above `maximum`.

    `max_rate` caps the pace (requests per second) and paces from the start.
    """

    in_flight: int  # counted down in `release` (declared for type checkers)
    sending: int
    #: Latency above TOLERANCE times the lowest seen (over REFRESH s), and above
    #: TOLERANCE * FLOOR s, counts as queueing (below: our own CPU's, on a fast link).
    TOLERANCE, REFRESH, FLOOR = 2.0, 30.0, 0.020
    #: Successes count towards the accepted rate for WINDOW s, kept only from the first 429
    #: or pace on (nothing asks before, so none older than the first 429 widens its
    #: first window); a pace younger than
    #: SETTLE s with fewer than SAMPLES answers is not measured yet: its 429s wait.
    WINDOW, SETTLE, SAMPLES = 2.0, 0.25, 20
    #: The pace sits MARGIN below the accepted rate, probes after PROBE_AFTER s, and
    #: never goes below MIN_PACE requests/s (probes double it from there).
    MARGIN, PROBE_AFTER, MIN_PACE = 0.95, 2.0, 1.0
    #: A plateau is held at KNEE_GAIN times its knee for HOLD s, then growth tries again:
    #: the slack keeps sends queued through a busy machine's scheduling jitter, as TCP
    #: BBR keeps twice the path's bandwidth-delay product in flight.
    HOLD, KNEE_GAIN = 5.0, 2.0

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
        self._refresh_at = clock() + self.REFRESH  # when the lowest latency starts afresh
        # Latency above it counts as queueing: TOLERANCE times the floor, kept with the floor.
        self._gate = self.TOLERANCE * self.FLOOR
        self._successes: deque[float] = deque()
        self._pace_since = clock()
        self._first_429: float | None = None
        self._step = 0.05
        self._cut_streak = False  # no success since the last cut
        self._meter = ThroughputMeter(clock())
        self._knee: int | None = None  # the limit held since growth stopped paying
        self._held_since = -math.inf

    def _limit_to(self, limit: float) -> None:
        super()._limit_to(limit)
        self._span = max(limit, 10.0)  # answers the latency average spans: a round trip

    def release(self, token: Token, outcome: Outcome) -> None:
        """Give the slot back; learn from what came back (a Retry-After is the caller's)."""
        now = self._clock()
        self.in_flight -= 1  # the slot is free; waiters wake below, once the limit has learnt
        self.sending -= 1
        if outcome is OK:
            self._on_answer(token, now)
        elif outcome is Outcome.RATE_LIMITED:
            self._on_rate_limited(token, now)
        elif outcome is Outcome.OVERLOADED:
            self._cut(token, 0.5)
        if self._waiters:
            self._wake()

    # -- concurrency -------------------------------------------------------------------

    def _on_answer(self, token: Token, now: float) -> None:
        """Runs once per answer: the floor and its gate change only when the lowest does."""
        self._cut_streak = False
        sent_at = token.sent_at
        latency = now - sent_at
        if latency < self._lowest or now > self._refresh_at:
            self._new_lowest(latency, now)
        average = self._latency
        average = self._latency = (
            latency if average is None else average + (latency - average) / self._span
        )
        done = self._meter.answer(sent_at, now)
        if average > self._gate:
            self._cut(token, max(0.5, self._gate / average))
        elif done is not None:
            self._grow(done, now)
        if self.rate is not None or self._first_429 is not None:
            self._paced_answer(now)

    def _new_lowest(self, latency: float, now: float) -> None:
        if now > self._refresh_at:  # let the floor rise if the API slowed
            self._lowest_before, self._lowest = self._lowest, latency
            self._refresh_at = now + self.REFRESH
        self._lowest = min(self._lowest, latency)
        floor = max(self.FLOOR, min(self._lowest, self._lowest_before))
        self._gate = self.TOLERANCE * floor

    def _paced_answer(self, now: float) -> None:
        """Count the success towards the accepted rate (only 429s ask for it), maybe probe."""
        successes = self._successes
        successes.append(now)
        while successes[0] < now - self.WINDOW:
            successes.popleft()
        if self.rate is not None and now - self._pace_since >= self.PROBE_AFTER:
            self._probe(now)

    def _grow(self, done: Round, now: float) -> None:
        """At a round's end: double the limit (slow start) or add sqrt(limit), if growth pays."""
        ceiling = self._ceiling(done, now)
        # Only a limit in use may grow: half of it kept busy, or sends wait for it.
        if self._limit < ceiling and (
            2 * done.in_flight >= self._limit or (self._waiters and self.rate is None)
        ):
            if self._limit < self.threshold:
                limit = min(2 * self._limit, self.threshold)
            else:
                limit = self._limit + math.sqrt(self._limit)
            self._set_limit(min(ceiling, limit))

    def _ceiling(self, done: Round, now: float) -> float:
        """How far the limit may grow now: `maximum`, or after a plateau what it holds at."""
        if self._knee is not None:
            if now - self._held_since < self.HOLD:
                return self._knee
            self._knee = None  # try again: the API may take more now
            self._meter.restart(now)
        elif (knee := self._meter.plateau(done)) is not None:
            self._knee = min(self.maximum, max(self.minimum, round(self.KNEE_GAIN * knee)))
            self._held_since = now
            self.threshold = min(self._limit, self._knee)  # beyond it: gently
            self._limit_to(self.threshold)
            return self._knee
        return self.maximum

    def _cut(self, token: Token, factor: float) -> None:
        """Shrink the limit, once per round trip: answers to older sends are old news."""
        if token.cut_epoch != self.cut_epoch:
            return
        self.cut_epoch += 1
        if not self._cut_streak:  # a long outage keeps where to slow-start back to
            self.threshold = max(self.minimum, self._limit * 0.5)
        self._cut_streak = factor == 0.5
        self._limit_to(max(self.minimum, self._limit * factor))
        self._meter.restart(self._clock())  # growth back from here is judged afresh

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
        if age <= 0 or (age < self.SETTLE and got_through < self.SAMPLES):
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
