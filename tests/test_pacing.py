"""The shared pause of bulk imports and a send's turn, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from conftest import FakeTime

from ecomcharge_async.bulk._pacing import Pause, take_turn
from ecomcharge_async.bulk._slots import FixedLimiter, Outcome


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


async def test_a_turn_waits_out_the_pause_then_takes_a_slot(time_: FakeTime) -> None:
    pause = Pause(clock=time_.clock, sleep=time_.sleep, initial=2.0)
    limiter = FixedLimiter(1, clock=time_.clock, sleep=time_.sleep)
    pause.trip(pause.generation)
    generation, token = await take_turn(pause, limiter)
    assert (generation, time_.sleeps, limiter.in_flight) == (1, [2.0], 1)
    limiter.release(token, Outcome.OK)
    assert limiter.in_flight == 0


async def test_a_pause_begun_while_a_send_waits_for_a_slot_is_waited_out_too(
    time_: FakeTime,
) -> None:
    pause = Pause(clock=time_.clock, sleep=time_.sleep, initial=1.0)
    limiter = FixedLimiter(1, clock=time_.clock, sleep=time_.sleep)
    first_generation, first = await take_turn(pause, limiter)
    second = asyncio.create_task(take_turn(pause, limiter))
    await asyncio.sleep(0)  # the second send now waits for the only slot
    assert not second.done()
    pause.trip(first_generation)  # the first send came back 503
    limiter.release(first, Outcome.OVERLOADED)
    generation, token = await second
    # Handed the slot during the pause, it gave it back and waited the pause out.
    assert (generation, time_.sleeps, limiter.in_flight) == (1, [1.0], 1)
    limiter.release(token, Outcome.OK)


def test_until_is_set_while_a_pause_is_on_and_zero_once_one_was_seen_over(
    time_: FakeTime,
) -> None:
    # A send reads `until` first and asks `over()` (and the clock) only when it is set.
    pause = Pause(clock=time_.clock, sleep=time_.sleep, initial=1.0)
    assert (pause.until, pause.over()) == (0.0, True)
    pause.trip(pause.generation)
    assert (pause.until, pause.over()) == (101.0, False)
    time_.now = 101.0
    assert (pause.over(), pause.until) == (True, 0.0)
    pause.trip(pause.generation)  # the streak goes on: a longer pause, set again
    assert (pause.until, pause.over()) == (103.0, False)
