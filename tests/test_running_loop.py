"""`LoopSeen`: the loop a caller saw, only while it is the one running in this thread."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from ecomcharge_async._core.running_loop import LoopSeen


async def test_a_loop_seen_is_taken_only_while_it_runs_in_this_thread() -> None:
    here = asyncio.get_running_loop()
    seen = LoopSeen()
    assert seen.running() is here
    assert seen.running() is here
    idle = asyncio.new_event_loop()
    try:
        seen._loop = idle  # seen once, not running now: asyncio is asked
        assert seen.running() is here
    finally:
        idle.close()

    async def elsewhere() -> bool:
        # `here` runs too, but in the other thread: this thread's loop is the answer.
        seen._loop = here
        return seen.running() is asyncio.get_running_loop()

    assert await asyncio.to_thread(asyncio.run, elsewhere())


def test_no_running_loop_raises_as_asyncio_does() -> None:
    stopped = asyncio.new_event_loop()
    seen = LoopSeen()
    stopped.run_until_complete(asyncio.sleep(0))  # it ran here once, and has stopped
    seen._loop = stopped
    try:
        with pytest.raises(RuntimeError, match="no running event loop"):
            seen.running()
    finally:
        stopped.close()


# In a process of its own (no pytest threads to warn about at fork; POSIX, as the
# other fork tests): a loop seen
# running before fork(2), still "running" in this thread in the child, is not the
# child's loop.
FORKED = textwrap.dedent("""
    import asyncio, os, sys
    from ecomcharge_async._core.running_loop import LoopSeen

    seen = LoopSeen()

    async def child() -> None:
        ok = seen.running() is asyncio.get_running_loop()
        sys.stdout.write("child sees its own loop\\n" if ok else "child sees the parent's loop\\n")

    async def parent() -> None:
        seen.running()
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(child())  # this thread's ident, a new loop
            finally:
                sys.stdout.flush()
                os._exit(0)
        os.waitpid(pid, 0)

    asyncio.run(parent())
""")


def test_a_loop_seen_before_fork_is_not_the_childs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "child sees its own loop", done.stderr
