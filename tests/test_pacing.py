"""The shared pause and the rate limit of bulk imports, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from conftest import FakeTime

from ecomcharge_async.bulk._pacing import Pause, RateLimit


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime(now=100.0)


async def test_no_pause_means_no_sleep(time_: FakeTime) -> None:
    pause = Pause(clock=time_.clock, sleep=time_.sleep)
    assert await pause.wait() == 0
    assert time_.sleeps == []


async def test_retry_after_is_honoured(time_: FakeTime) -> None:
    # Above max_retry_after the importer gives up instead of tripping (test_bulk).
    pause = Pause(clock=time_.clock, sleep=time_.sleep)
    pause.trip(await pause.wait(), retry_after=7.0)
    generation = await pause.wait()
    pause.trip(generation, retry_after=90.0)
    await pause.wait()
    assert time_.sleeps == [7.0, 90.0]


async def test_backoff_doubles_with_the_streak_and_resets_on_success(time_: FakeTime) -> None:
    pause = Pause(clock=time_.clock, sleep=time_.sleep, initial=0.25, maximum=1.0)
    for _ in range(4):
        pause.trip(await pause.wait())
    await pause.wait()
    pause.clear()
    pause.trip(await pause.wait())
    await pause.wait()
    assert time_.sleeps == [0.25, 0.5, 1.0, 1.0, 0.25]


async def test_signals_from_requests_already_in_flight_do_not_lengthen_the_pause(
    time_: FakeTime,
) -> None:
    pause = Pause(clock=time_.clock, sleep=time_.sleep, initial=1.0)
    # Three requests leave together; all three come back 503.
    generations = [await pause.wait() for _ in range(3)]
    for generation in generations:
        pause.trip(generation)
    assert pause.trips == 1
    # All three wait out the same single pause.
    await asyncio.gather(*(pause.wait() for _ in range(3)))
    assert time_.sleeps == [1.0]


async def test_the_rate_limit_spaces_requests_evenly(time_: FakeTime) -> None:
    limit = RateLimit(4.0, clock=time_.clock, sleep=time_.sleep)
    for _ in range(5):
        await limit.acquire()
    assert time_.sleeps == [0.25, 0.25, 0.25, 0.25]
    time_.now += 10  # idle time does not build up a burst beyond one request
    await limit.acquire()
    await limit.acquire()
    assert time_.sleeps[-1] == 0.25


async def test_concurrent_waiters_get_distinct_slots(time_: FakeTime) -> None:
    waits: list[float] = []

    async def sleep_without_moving_the_clock(seconds: float) -> None:
        waits.append(round(seconds, 6))
        await asyncio.sleep(0)

    limit = RateLimit(10.0, clock=time_.clock, sleep=sleep_without_moving_the_clock)
    await asyncio.gather(*(limit.acquire() for _ in range(3)))
    assert sorted(waits) == [0.1, 0.2]


def test_the_rate_must_be_positive(time_: FakeTime) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimit(0, clock=time_.clock, sleep=time_.sleep)
