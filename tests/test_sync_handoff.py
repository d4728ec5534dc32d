"""The hand-off of a blocking call to the SDK's loop: what the sync client's tests cannot time.

A call interrupted (Ctrl-C) while still queued for the loop must never start;
calls queued from many threads while the loop is busy must all start, though
no wake-up byte announces them; the relay that wakes their callers one by one
must wake every one, also those whose calls end while it is under way.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from ecomcharge_async._core.handoff import RELAY_PATIENCE, Call, HandoffSelector, WakeRelay
from ecomcharge_async._core.loop_thread import LoopThread


def test_a_call_cancelled_before_it_started_never_runs() -> None:
    ran: list[str] = []

    async def work() -> str:
        ran.append("work")
        return "done"

    call = Call(work())
    call.cancel()  # the caller was interrupted before the loop picked the call up
    loop = asyncio.new_event_loop()
    try:
        call.start(loop)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert call.task is None
    assert ran == []


def test_calls_queued_while_the_loop_is_busy_all_start_and_return() -> None:
    runner = LoopThread()
    try:
        held, release = threading.Event(), threading.Event()

        async def hold_the_loop() -> None:
            held.set()
            release.wait(30)  # the loop works (blocked) while the other threads queue

        async def echo(n: int) -> int:
            await asyncio.sleep(0)
            return n

        holder = threading.Thread(target=runner.run, args=(hold_the_loop(),))
        holder.start()
        assert held.wait(30)
        results: dict[int, int] = {}

        def call(n: int) -> None:
            results[n] = runner.run(echo(n))

        callers = [threading.Thread(target=call, args=(n,)) for n in range(16)]
        for thread in callers:
            thread.start()
        for _ in range(30_000):  # until all 16 wait in the queue (a bound, not a timing)
            if len(runner._handoff._incoming) == 16:
                break
            threading.Event().wait(0.001)
        assert len(runner._handoff._incoming) == 16
        release.set()
        for thread in [holder, *callers]:
            thread.join(30)
        assert results == {n: n for n in range(16)}
    finally:
        runner.shutdown(30)
    assert runner.loop.is_closed()


async def _nothing() -> None:
    return None


def test_the_relay_wakes_every_caller_in_turn_also_of_calls_ended_while_it_runs() -> None:
    relay = WakeRelay()
    calls = [Call(_nothing()) for _ in range(8)]
    woken: list[int] = []

    def wait(n: int) -> None:
        calls[n].waiter.acquire()
        woken.append(n)
        if n == 0:  # more calls end while the relay is under way
            for later in calls[4:]:
                relay.add(later)
        if calls[n].woken_by_relay:
            relay.pass_on()

    callers = [threading.Thread(target=wait, args=(n,)) for n in range(8)]
    for thread in callers:
        thread.start()
    for call in calls[:4]:
        relay.add(call)
    relay.start(busy=False)
    for thread in callers:
        thread.join(30)
    assert woken == list(range(8))  # each woken by the one before, in the order they ended
    last = Call(_nothing())
    relay.add(last)
    relay.start(busy=False)  # the relay was over: a new one starts
    assert last.waiter.acquire(timeout=30)
    assert last.woken_by_relay
    for call in [*calls, last]:
        call.coro.close()


def test_a_busy_loop_holds_the_relay_back_a_few_turns_at_most() -> None:
    relay = WakeRelay()
    call = Call(_nothing())
    relay.add(call)
    for _ in range(RELAY_PATIENCE):  # the loop keeps the GIL this turn: not yet
        relay.start(busy=True)
        assert call.waiter.locked()
    relay.start(busy=True)
    assert not call.waiter.locked()
    assert call.woken_by_relay
    relay.pass_on()  # as its caller would: the relay ends
    again = Call(_nothing())
    relay.add(again)
    relay.start(busy=False)
    assert not again.waiter.locked()
    for each in (call, again):
        each.coro.close()


def test_calls_queued_while_the_loop_waits_in_select_send_one_wake_up_byte() -> None:
    handoff = HandoffSelector()
    loop = asyncio.SelectorEventLoop(handoff)
    handoff.bind(loop)
    try:
        calls = [Call(_nothing()) for _ in range(5)]
        wake_in = handoff._wake_in
        handoff._waiting = True  # as while the loop's thread blocks in `select`
        for call in calls:
            handoff.send(call)
        assert wake_in.recv(4096) == b"\0"  # one byte wakes it for all five
        loop.run_until_complete(asyncio.sleep(0))  # a turn: its `select` starts them
        assert all(call.task is not None for call in calls)
        loop.run_until_complete(asyncio.gather(*(call.task for call in calls if call.task)))
        assert all(call.done for call in calls)
        handoff._waiting = True
        handoff.send(last := Call(_nothing()))  # the next wait: a byte again
        assert wake_in.recv(4096) == b"\0"
        handoff._waiting = False
        handoff.send(busy := Call(_nothing()))  # the loop works: no byte
        with pytest.raises(BlockingIOError):
            wake_in.recv(4096)
        loop.run_until_complete(asyncio.sleep(0))
        assert last.task is not None
        assert busy.task is not None
        loop.run_until_complete(asyncio.gather(last.task, busy.task))
    finally:
        loop.close()
