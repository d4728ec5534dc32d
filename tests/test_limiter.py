"""The import's concurrency limiters, against simulated APIs on a virtual clock.

The simulations run on an event loop whose clock jumps to the next timer
instead of waiting for it (`virtual_time.VirtualTimeLoop`): a minute of
simulated import takes well under a second, and nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from conftest import FakeTime
from virtual_time import simulate, virtual_clock, virtual_sleep

import ecomcharge_async as ec
from ecomcharge_async.bulk._limiter import AdaptiveLimiter
from ecomcharge_async.bulk._slots import FixedLimiter, Outcome, Token, outcome_of
from ecomcharge_async.bulk._throughput import ThroughputMeter

Limiter = AdaptiveLimiter | FixedLimiter


# -- simulated APIs ---------------------------------------------------------------------


@attrs.define
class TokenBucketAPI:
    """`rate` requests per second with a burst of `burst`; 429 beyond; every answer `latency`."""

    rate: float = 250.0
    burst: float = 25.0
    latency: float = 0.020
    tokens: float = 25.0
    last: float = 0.0
    closed_until: float = 0.0  # the quota is spent until then: 429 for everyone

    async def call(self) -> Outcome:
        now = virtual_clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        allowed = self.tokens >= 1 and now >= self.closed_until
        if allowed:
            self.tokens -= 1
        await virtual_sleep(self.latency)
        return Outcome.OK if allowed else Outcome.RATE_LIMITED


@attrs.define
class SlowAPI:
    """No limit; every answer takes `latency`; 503 for everyone inside `outage` (start, end)."""

    latency: float = 0.200
    outage: tuple[float, float] | None = None

    async def call(self) -> Outcome:
        now = virtual_clock()
        down = self.outage is not None and self.outage[0] <= now < self.outage[1]
        await virtual_sleep(0.010 if down else self.latency)
        return Outcome.OVERLOADED if down else Outcome.OK


@attrs.define
class QueueingAPI:
    """A server of `capacity` requests at a time, `service` seconds each; the rest queue."""

    capacity: int = 32
    service: float = 0.050
    busy: asyncio.Semaphore | None = None

    async def call(self) -> Outcome:
        self.busy = self.busy or asyncio.Semaphore(self.capacity)
        async with self.busy:
            await virtual_sleep(self.service)
        return Outcome.OK


@attrs.define
class Run:
    rows: int
    elapsed: float
    sent: int
    outcomes: dict[Outcome, int]
    peak_in_flight: int
    limits: list[tuple[float, int]]  # (time, limit) at each answer
    created: list[float]  # when each row was created

    def rows_per_s_between(self, start: float, end: float) -> float:
        return sum(1 for t in self.created if start <= t < end) / (end - start)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed

    @property
    def share_429(self) -> float:
        return self.outcomes.get(Outcome.RATE_LIMITED, 0) / self.sent


def import_rows(
    api: TokenBucketAPI | SlowAPI | QueueingAPI,
    rows: int,
    make: Callable[[], Limiter],
    workers: int = 256,
) -> Run:
    """Import `rows` rows as the importer does: workers, each row sent again until answered."""

    async def main() -> Run:
        limiter = make()
        left = rows
        sent = 0
        in_flight = peak = 0
        outcomes: dict[Outcome, int] = {}
        limits: list[tuple[float, int]] = []
        created: list[float] = []

        async def worker() -> None:
            nonlocal left, sent, in_flight, peak
            while left > 0:
                left -= 1
                while True:
                    token = await limiter.acquire()
                    sent += 1
                    in_flight += 1
                    peak = max(peak, in_flight)
                    outcome = await api.call()
                    in_flight -= 1
                    limiter.release(token, outcome)
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                    limits.append((virtual_clock(), limiter.limit))
                    if outcome is Outcome.OK:
                        created.append(virtual_clock())
                        break

        start = virtual_clock()
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
        return Run(rows, virtual_clock() - start, sent, outcomes, peak, limits, created)

    result: Run = simulate(main)
    return result


def adaptive(**options: Any) -> Callable[[], AdaptiveLimiter]:
    return lambda: AdaptiveLimiter(clock=virtual_clock, sleep=virtual_sleep, **options)


def fixed(concurrency: int) -> Callable[[], FixedLimiter]:
    return lambda: FixedLimiter(concurrency, clock=virtual_clock, sleep=virtual_sleep)


# -- the targets --------------------------------------------------------------------------


def test_against_a_rate_limit_it_moves_near_the_rate_with_few_429s() -> None:
    run = import_rows(TokenBucketAPI(), 10_000, adaptive())
    assert run.rows_per_s >= 0.9 * 250
    assert run.share_429 <= 0.02
    assert run.rows_per_s <= 250 + 25 / run.elapsed  # the bucket's own bound: no miscount


def test_a_quota_spent_before_the_import_starts_slows_it_down_only_for_a_while() -> None:
    # Everything is 429 for the first 3 s: the pace falls to its floor (nothing got
    # through to measure), then probes double it until the bucket answers 429 again.
    run = import_rows(TokenBucketAPI(closed_until=3.0), 10_000, adaptive())
    assert run.rows_per_s_between(20.0, 30.0) >= 0.9 * 250
    assert run.share_429 <= 0.02


def test_against_an_unlimited_api_it_matches_the_best_fixed_concurrency() -> None:
    best = max(import_rows(SlowAPI(), 20_000, fixed(n)).rows_per_s for n in (16, 64, 256))
    run = import_rows(SlowAPI(), 20_000, adaptive(maximum=256))
    assert run.rows_per_s >= 0.9 * best
    assert run.peak_in_flight <= 256


@pytest.mark.parametrize("maximum", [1, 3, 40])
def test_it_never_goes_above_its_maximum(maximum: int) -> None:
    limiter = adaptive(maximum=maximum)
    run = import_rows(SlowAPI(latency=0.05), 2_000, limiter)
    assert run.peak_in_flight == maximum
    assert max(limit for _, limit in run.limits) == maximum


def test_a_plateau_held_near_the_maximum_holds_no_more_than_the_maximum() -> None:
    # The knee is near 8 in flight; twice it would be past the maximum of 12.
    run = import_rows(QueueingAPI(capacity=4, service=0.002), 10_000, adaptive(maximum=12))
    assert run.peak_in_flight <= 12
    assert max(limit for _, limit in run.limits) <= 12


def test_it_cuts_back_in_an_outage_and_recovers_after_it() -> None:
    run = import_rows(SlowAPI(outage=(5.0, 8.0)), 20_000, adaptive())
    before = [limit for t, limit in run.limits if 4.0 <= t < 5.0]
    during = [limit for t, limit in run.limits if 6.0 <= t < 8.0]
    assert min(before) == 256
    assert max(during) == 1  # the 503s were sent one at a time
    # Slow start back to half the ceiling, then sqrt(limit) more per round trip:
    # the ceiling again within 4.5 s (22 round trips) of the end.
    after = [limit for t, limit in run.limits if t >= 12.5]
    assert after
    assert min(after) == 256


def test_when_latency_climbs_it_stops_adding_to_the_queue() -> None:
    # Past 32 in flight, more concurrency only lengthens the server's queue.
    run = import_rows(QueueingAPI(), 20_000, adaptive())
    assert run.rows_per_s >= 0.9 * 32 / 0.050
    settled = [limit for t, limit in run.limits if t >= 5.0]
    # Latency held near the tolerance (twice the lowest), plus the moving average's
    # lag: far below the 256 allowed.
    assert max(settled) <= 3 * 32


def test_where_more_in_flight_buys_no_more_answers_it_stops_growing() -> None:
    # 4 answered at a time in 2 ms each: 2,000/s from 4 in flight on. Latency reaches
    # the gradient's floor (40 ms) only past 80 in flight; below it, only the rate can
    # tell that more in flight buys nothing (on a fast link: more CPU per row, no more rows).
    run = import_rows(QueueingAPI(capacity=4, service=0.002), 24_000, adaptive())
    assert run.rows_per_s >= 0.95 * 2_000
    settled = sorted(limit for t, limit in run.limits if t >= 1.0)
    assert settled
    assert settled[len(settled) // 2] <= 16  # the median: held at twice the knee
    assert settled[-1] <= 64  # tries to grow every HOLD s, and finds nothing more there


@attrs.define
class GrowingAPI(QueueingAPI):
    """A `QueueingAPI` that takes `more` requests at a time from `at` s on (scaled out)."""

    at: float = 1.0
    more: int = 28

    async def call(self) -> Outcome:
        self.busy = self.busy or asyncio.Semaphore(self.capacity)
        if self.more and virtual_clock() >= self.at:
            for _ in range(self.more):
                self.busy.release()
            self.more = 0
        return await super().call()


def test_a_held_limit_grows_again_when_the_api_takes_more() -> None:
    # 2,000/s from 4 in flight until 1 s, then 16,000/s from 32 in flight.
    run = import_rows(GrowingAPI(capacity=4, service=0.002), 80_000, adaptive())
    before = sorted(limit for t, limit in run.limits if 0.5 <= t < 1.0)
    assert before[len(before) // 2] <= 16
    # Soon after the hold ends (HOLD s after it began), the rows move at the new rate.
    start = AdaptiveLimiter.HOLD + 1.0
    assert run.rows_per_s_between(start, run.elapsed - 0.1) >= 0.9 * 32 / 0.002
    after = sorted(limit for t, limit in run.limits if t >= start)
    assert after[len(after) // 2] >= 0.9 * 32


def test_a_max_rate_caps_the_pace_from_the_start() -> None:
    run = import_rows(SlowAPI(latency=0.02), 2_000, adaptive(max_rate=100.0))
    assert 95 <= run.rows_per_s <= 100.5
    assert max(limit for _, limit in run.limits) <= 8  # 100/s x 20 ms needs 2: no growth


# -- the mechanics ------------------------------------------------------------------------


async def test_a_fixed_limiter_holds_its_number_and_wakes_waiters_in_order() -> None:
    time_ = FakeTime()
    limiter = FixedLimiter(2, clock=time_.clock, sleep=time_.sleep)
    first, second = await limiter.acquire(), await limiter.acquire()
    order: list[int] = []

    async def third(n: int) -> Token:
        token = await limiter.acquire()
        order.append(n)
        return token

    waiting = [asyncio.create_task(third(n)) for n in (3, 4)]
    await asyncio.sleep(0)
    assert order == []
    assert limiter.in_flight == 2
    limiter.release(first, Outcome.OK)
    limiter.release(second, Outcome.RATE_LIMITED)
    tokens = await asyncio.gather(*waiting)
    assert order == [3, 4]
    assert (limiter.limit, limiter.peak) == (2, 2)
    for token in tokens:
        limiter.release(token, Outcome.OTHER)
    assert limiter.in_flight == 0


async def test_a_fixed_rate_spaces_sends_evenly() -> None:
    time_ = FakeTime(now=10.0)
    limiter = FixedLimiter(8, rate=4.0, clock=time_.clock, sleep=time_.sleep)
    for _ in range(3):
        limiter.release(await limiter.acquire(), Outcome.OK)
    assert time_.sleeps == [0.25, 0.25]


async def test_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    time_ = FakeTime()
    limiter = AdaptiveLimiter(initial=1, clock=time_.clock, sleep=time_.sleep)
    held = await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release(held, Outcome.OTHER)
    assert limiter.in_flight == 0
    token = await limiter.acquire()  # the slot is free, not lost to the cancelled waiter
    assert limiter.in_flight == 1
    limiter.release(token, Outcome.OTHER)


async def test_a_waiter_cancelled_then_passed_over_by_a_release_leaves_cleanly() -> None:
    time_ = FakeTime()
    limiter = FixedLimiter(1, clock=time_.clock, sleep=time_.sleep)
    held = await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()  # its future is cancelled now; the task runs its cleanup later...
    limiter.release(held, Outcome.OK)  # ...after this release skipped the cancelled future
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.in_flight == 0
    limiter.release(await limiter.acquire(), Outcome.OK)


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_passes_it_on() -> None:
    time_ = FakeTime()
    limiter = FixedLimiter(1, clock=time_.clock, sleep=time_.sleep)
    held = await limiter.acquire()
    first = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    limiter.release(held, Outcome.OK)  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    token = await second
    assert limiter.in_flight == 1
    limiter.release(token, Outcome.OK)


async def test_a_send_cancelled_while_it_waits_for_the_pace_frees_its_slot() -> None:
    limiter = FixedLimiter(4, rate=1.0, clock=virtual_clock_of_zero, sleep=never_returns)
    first = await limiter.acquire()  # the first send needs no wait
    paced = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.in_flight == 2
    paced.cancel()
    with pytest.raises(asyncio.CancelledError):
        await paced
    assert limiter.in_flight == 1
    limiter.release(first, Outcome.OK)


def virtual_clock_of_zero() -> float:
    return 0.0


async def never_returns(seconds: float) -> None:
    await asyncio.Event().wait()


def test_bad_settings_are_refused() -> None:
    time_ = FakeTime()
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        FixedLimiter(0, clock=time_.clock, sleep=time_.sleep)
    with pytest.raises(ValueError, match="rate must be positive"):
        FixedLimiter(1, rate=0, clock=time_.clock, sleep=time_.sleep)
    with pytest.raises(ValueError, match="minimum <= maximum"):
        AdaptiveLimiter(minimum=5, maximum=4, clock=time_.clock, sleep=time_.sleep)
    with pytest.raises(ValueError, match="max_rate must be positive"):
        AdaptiveLimiter(max_rate=-1, clock=time_.clock, sleep=time_.sleep)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, Outcome.OK),
        (ec.ValidationError(422, "invalid"), Outcome.OK),
        (ec.NotFoundError(404, "no such endpoint"), Outcome.OK),
        (ec.RateLimitError(429, "slow down", retry_after=2.0), Outcome.RATE_LIMITED),
        (ec.ServerError(503, "unavailable"), Outcome.OVERLOADED),
        (ec.ServerError(504, "gateway timeout"), Outcome.OVERLOADED),
        (ec.APIError(408, "request timeout"), Outcome.OVERLOADED),
        (ec.APITimeoutError("no answer in time"), Outcome.OVERLOADED),
        (ec.ConnectError("refused"), Outcome.OVERLOADED),
        (ec.ServerError(500, "bug"), Outcome.OTHER),
        (ec.PoolTimeoutError("no free connection"), Outcome.OTHER),
        (ec.DecodeError("unreadable"), Outcome.OTHER),
    ],
)
def test_what_an_answer_tells_the_limiter(error: BaseException | None, outcome: Outcome) -> None:
    assert outcome_of(error) is outcome


def test_rounds_answered_in_no_time_are_not_judged() -> None:
    # A test's clock may only move on sleeps: answers then take no time at all.
    meter = ThroughputMeter(now=0.0)
    judged = 0
    for now in (0.0, 0.5, 1.0, 1.5, 2.0):
        done = meter.answer(sent_at=now, now=now)
        if done is not None:
            judged += 1
            assert done.in_flight == 0
            assert meter.plateau(done) is None
    assert judged == 4  # each answer after the first ends a round


def test_a_round_measures_the_requests_kept_in_flight_and_the_answers_per_second() -> None:
    # One send per ms, each answered 50 ms later: 50 in flight, 1,000 answers/s.
    meter = ThroughputMeter(now=0.05)
    rounds = [meter.answer(sent_at=n / 1000, now=n / 1000 + 0.05) for n in range(1, 400)]
    done = [r for r in rounds if r is not None]
    assert len(done) == 3  # a round lasts a round trip, and SHORTEST s at the least
    for r in done:
        assert r.in_flight == pytest.approx(50, rel=0.02)
        assert r.rate == pytest.approx(1000, rel=0.02)


def test_tokens_made_without_their_new_have_every_field() -> None:
    # Slots build a Token with tuple.__new__ from four values: a field added to Token
    # must be added there too, or tokens would come out short.
    assert Token._fields == ("sent_at", "in_flight", "cut_epoch", "pace_epoch")
    token = FixedLimiter(2, clock=lambda: 5.0, sleep=asyncio.sleep).acquire_now()
    assert isinstance(token, Token)
    assert len(token) == len(Token._fields)
    assert token.sent_at == 5.0
