"""The hand-off of a blocking call to the SDK's loop: what the sync client's tests cannot time.

A call interrupted (Ctrl-C) while still queued for the loop must never start;
calls queued from many threads while the loop is busy must all start, though
no wake-up byte announces them.
"""

from __future__ import annotations

import asyncio
import threading

from ecomcharge_async._core.handoff import Call
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
