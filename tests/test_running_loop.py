"""`running_loop`: the loop a caller knows, only while it is the one running in this thread."""

from __future__ import annotations

import asyncio

import pytest

from ecomcharge_async._core.running_loop import running_loop


async def test_a_known_loop_is_taken_only_while_it_runs_in_this_thread() -> None:
    here = asyncio.get_running_loop()
    assert running_loop(None) is here
    assert running_loop(here) is here
    idle = asyncio.new_event_loop()
    try:
        assert running_loop(idle) is here  # not running: asyncio is asked
    finally:
        idle.close()

    async def elsewhere() -> bool:
        # `here` runs too, but in the other thread: this thread's loop is the answer.
        return running_loop(here) is asyncio.get_running_loop()

    assert await asyncio.to_thread(asyncio.run, elsewhere())


def test_no_running_loop_raises_as_asyncio_does() -> None:
    stopped = asyncio.new_event_loop()
    stopped.run_until_complete(asyncio.sleep(0))  # it ran here once, and has stopped
    try:
        with pytest.raises(RuntimeError, match="no running event loop"):
            running_loop(stopped)
    finally:
        stopped.close()
