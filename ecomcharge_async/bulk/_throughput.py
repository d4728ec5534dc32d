"""Whether more requests in flight still buy more answers per second: the limiter's plateau test.

Latency alone cannot tell on a fast link: over loopback, or to an API next
door, a few milliseconds is mostly the client's own CPU, so it stays "flat"
while each request more in flight adds nothing but CPU per row. The meter
measures answers per second once per round (a round ends at the first answer
to a request sent after it began, as TCP BBR counts rounds, and SHORTEST
seconds at the least), beside the requests kept in flight on
average (the answers' latencies summed over the round's length: Little's law,
which a burst of sends does not skew). Once the requests in flight have grown
by GROWTH or more since a reference round, the rate must have grown by at
least a quarter of that growth; STALLS judged rounds in a row that miss are a
plateau, and its knee is the fewest requests in flight within KNEE of the best
rate seen.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple


class Round(NamedTuple):
    """One round trip's answers: the requests in flight on average, and the answers per second."""

    in_flight: float
    rate: float


class ThroughputMeter:
    """Rounds of answers per second, and whether growing the concurrency still pays."""

    #: A round is judged once its requests in flight are GROWTH times its reference's;
    #: STALLS judged rounds in a row that miss are a plateau.
    GROWTH, STALLS = 1.25, 3
    #: Where a plateau is held: the fewest requests in flight within KNEE of the best rate.
    KNEE = 0.9
    #: Rounds kept to find the knee in.
    KEPT = 32
    #: The shortest round, in seconds: on a fast link a round trip is a millisecond or
    #: two, too short to average out bursts of answers and a busy machine's scheduling.
    SHORTEST = 0.1

    def __init__(self, now: float) -> None:
        self._begin(now)
        self._reference: Round | None = None
        self._stalls = 0
        self.rounds: deque[Round] = deque(maxlen=self.KEPT)
        self._knee: Round | None = None  # the last plateau's: later rounds run above it

    def answer(self, sent_at: float, now: float) -> Round | None:
        """Count one answer to a request sent at `sent_at`; the round it ends, if it ends one."""
        self._answers += 1
        self._waited += now - sent_at
        if now < self._end or sent_at < self._start:  # once per answer: the cheap test first
            return None
        length = now - self._start
        done = Round(self._waited / length, self._answers / length)
        self._begin(now)
        self.rounds.append(done)
        return done

    def plateau(self, done: Round) -> float | None:
        """After `done`: the knee's requests in flight if growth stopped paying, else None."""
        reference = self._reference
        if reference is None or reference.in_flight <= 0:  # 0: answered in no time (a test clock)
            self._reference = done
            return None
        growth = done.in_flight / reference.in_flight
        if growth < self.GROWTH:
            return None  # too little more in flight to tell
        if done.rate >= reference.rate * (1 + (growth - 1) / 4):
            self._reference, self._stalls = done, 0
            return None
        self._stalls += 1
        if self._stalls < self.STALLS:
            return None
        seen = [*self.rounds, *([self._knee] if self._knee is not None else [])]
        best = max(r.rate for r in seen)
        self._knee = min((r for r in seen if r.rate >= self.KNEE * best), key=lambda r: r.in_flight)
        self._reference, self._stalls = None, 0
        self.rounds.clear()
        return self._knee.in_flight

    def _begin(self, now: float) -> None:
        self._start, self._end = now, now + self.SHORTEST  # a round ends no sooner than _end
        self._answers = 0
        self._waited = 0.0  # the latencies of the round's answers, summed

    def restart(self, now: float) -> None:
        """Judge afresh from a round that starts now: the limit was cut, or a plateau's held."""
        self._begin(now)
        self._reference, self._stalls = None, 0
        self.rounds.clear()
