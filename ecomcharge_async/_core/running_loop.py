"""The running event loop, known without a system call where it can be.

On Python 3.11 `asyncio.get_running_loop()` (and `asyncio.current_task()`,
which calls it) checks the process id with getpid(2) on every call: about
0.9 µs each on a loaded VM, twice per request on the hot path. That check
exists for fork(2); here a fork count kept by an at-fork hook stands in for it
(it sees the forks made through Python: `os.fork`, multiprocessing, subprocess's
`preexec_fn`; not one a C extension makes by itself).
"""

from __future__ import annotations

import asyncio
import os
from threading import get_ident

_forks = 0  # the fork(2)s this process came out of: a loop seen before one is not ours


def _forked() -> None:  # pragma: no cover  (runs in a forked child: test_running_loop)
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_forked)


class LoopSeen:
    """The loop a caller saw running last, taken again while it runs in this thread.

    asyncio's own loops note the thread running them (`_thread_id`, None when
    stopped), and one thread runs one loop at a time, so the loop seen, running
    in this thread of the same process (no fork since), is the running loop.
    Any other case (another thread, a stopped loop, a forked child, a loop
    without `_thread_id`) asks asyncio, which raises `RuntimeError` when no loop runs.
    """

    __slots__ = ("_forks", "_loop")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._forks = _forks

    def running(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if (
            loop is not None
            and getattr(loop, "_thread_id", None) == get_ident()
            and self._forks == _forks
        ):
            return loop
        loop = self._loop = asyncio.get_running_loop()
        self._forks = _forks
        return loop
