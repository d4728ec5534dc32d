"""Waking the callers whose calls ended together: a caller that fails as it is woken stalls
none of the others.

Each caller sleeps on its call's lock until the call is over. A thread may fail
right at its wake-up: an asynchronous exception (what thread-timeout libraries
raise, `KeyboardInterrupt` in the main thread) is raised there, the first moment
the woken thread runs Python again. Whatever wakes the callers (each lock
released as its task ends, or any scheme waking them one after another, each
woken caller waking the next), the others must all be woken, and the loop must
serve on.
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
import threading
from typing import Any

import pytest

from ecomcharge_async._core.loop_thread import LoopThread

CALLERS = 31


class Stopped(Exception):
    """Raised in a thread from outside, as a thread-timeout library does."""


def _raise_in(thread: threading.Thread, exception: type[BaseException]) -> None:
    """Have `thread` raise `exception` as soon as it runs Python code again."""
    assert thread.ident is not None
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    assert set_async_exc(ctypes.c_ulong(thread.ident), ctypes.py_object(exception)) == 1


def _waiting_for_its_call(thread: threading.Thread) -> bool:
    """Whether `thread` is blocked on its call's lock: past the last point where an
    asynchronous exception could be raised before the wait."""
    frame = sys._current_frames().get(thread.ident or 0)
    code = LoopThread._wait.__code__
    return frame is not None and frame.f_code is code and frame.f_lineno > code.co_firstlineno


def _start_waiting(thread: threading.Thread, started: list[str], count: int) -> None:
    """Start `thread`; return once its call is the `count`th at the gate and it waits for it."""
    thread.start()
    _until(lambda: len(started) == count and _waiting_for_its_call(thread))


def _until(condition: Any) -> None:
    for _ in range(30_000):  # a bound, not a timing
        if condition():
            return
        threading.Event().wait(0.001)
    raise AssertionError("the condition never held")


@pytest.mark.parametrize("woken", ["first", "last"])
def test_a_caller_failing_as_it_is_woken_stalls_none_of_the_calls_that_ended_with_its_own(
    woken: str,
) -> None:
    runner = LoopThread()
    try:
        opened: dict[str, asyncio.Future[None]] = {}
        started: list[str] = []
        held = threading.Event()

        async def hold_the_loop() -> None:
            # Its thread runs the loop meanwhile, for the calls of all the others.
            loop = asyncio.get_running_loop()
            opened["gate"], opened["holder"] = loop.create_future(), loop.create_future()
            held.set()
            await opened["holder"]

        async def at_the_gate(name: str) -> str:
            started.append(name)
            await opened["gate"]
            return name

        holder = threading.Thread(target=runner.run, args=(hold_the_loop(),), daemon=True)
        holder.start()
        assert held.wait(30)
        outcomes: dict[str, object] = {}

        def call(name: str) -> None:
            try:
                outcomes[name] = runner.run(at_the_gate(name))
            except Stopped as stopped:
                outcomes[name] = stopped

        victim = threading.Thread(target=call, args=("victim",), daemon=True)
        others = [
            threading.Thread(target=call, args=(str(n),), daemon=True) for n in range(CALLERS)
        ]
        # The calls end in the order they reached the gate.
        in_order = [victim, *others] if woken == "first" else [*others, victim]
        for count, thread in enumerate(in_order, 1):
            _start_waiting(thread, started, count)
        _raise_in(victim, Stopped)  # it will raise the moment it is woken
        # All 32 calls end in one turn of the loop; the victim, woken first or last, fails there.
        runner.loop.call_soon_threadsafe(opened["gate"].set_result, None)
        for thread in [victim, *others]:
            thread.join(30)
            assert not thread.is_alive()
        assert isinstance(outcomes.pop("victim"), Stopped)
        assert outcomes == {str(n): str(n) for n in range(CALLERS)}

        async def echo(n: int) -> int:
            return n

        assert runner.run(echo(7)) == 7  # and the loop serves on, its callers woken
        runner.loop.call_soon_threadsafe(opened["holder"].set_result, None)
        holder.join(30)
        assert not holder.is_alive()
    finally:
        runner.shutdown(30)
    assert runner.loop.is_closed()
