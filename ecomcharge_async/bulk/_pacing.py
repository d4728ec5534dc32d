"""Pacing for bulk imports: a shared pause after overload signals, and a send's turn.

The pause takes the clock and the sleep function as arguments, so tests run on a fake
clock and never sleep for real. Neither loops on the clock: each waiter computes
its wait once and sleeps it, which also keeps a no-op sleep from spinning.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ._limiter import AdaptiveLimiter
from ._slots import FixedLimiter, Outcome, Token

Sleep = Callable[[float], Awaitable[Any]]


class Pause:
    """One pause shared by every worker of an import.

    A 429, 503, 408 or refused connection trips it: nobody sends until it ends.
    The wait is the server's `Retry-After` when given (the importer gives up on
    a row instead when it is above `max_retry_after`: `_verdict.waits_too_long`),
    otherwise `min(maximum, initial * 2**(streak - 1))`, where the streak counts
    overload signals since the last success. Signals from requests that were
    already in flight when the pause was set do not lengthen it again.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        sleep: Sleep,
        initial: float = 0.25,
        maximum: float = 8.0,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.initial = initial
        self.maximum = maximum
        self.until = 0.0  # when the pause on ends; 0.0 once `over` saw none on
        self.generation = 0  # how many pauses have begun: a turn taken in an older one is stale
        self.streak = 0  # overload signals since the last success
        self.trips = 0

    async def wait(self) -> int:
        """Wait out the current pause; return its generation, to hand to `trip`."""
        delay = self.until - self._clock()
        if delay > 0:
            await self._sleep(delay)
        return self.generation

    def trip(self, generation: int, retry_after: float | None = None) -> None:
        """Pause everyone after an overload signal on a request sent in `generation`."""
        if generation != self.generation:
            return  # sent before the current pause began: that pause covers it
        self.generation += 1
        self.streak += 1
        self.trips += 1
        if retry_after is not None:
            delay = max(retry_after, 0.0)
        else:
            delay = min(self.maximum, self.initial * 2 ** min(self.streak - 1, 32))
        self.until = max(self.until, self._clock() + delay)

    def over(self) -> bool:
        """Whether no pause is on: `wait` would not sleep. Sets `until` to 0.0 once it is
        over, so a send reads "no pause" from `until` alone, with no call or clock."""
        if self.until > self._clock():
            return False
        self.until = 0.0
        return True

    def clear(self) -> None:
        """A request went through: the next signal starts a new streak."""
        self.streak = 0


#: What paces an import's requests: adaptive (`--concurrency auto`) or fixed.
Limiter = AdaptiveLimiter | FixedLimiter


async def take_turn(pause: Pause, limiter: Limiter) -> tuple[int, Token]:
    """Wait out the pause, then for a slot; a pause begun meanwhile is waited out too.

    Sends waiting for a slot when a pause begins must not leave the moment they
    get one: the pause is checked again with the slot in hand.
    """
    while True:
        generation = await pause.wait()
        token = await limiter.acquire()
        if pause.generation == generation:
            return generation, token
        limiter.release(token, Outcome.OTHER)
