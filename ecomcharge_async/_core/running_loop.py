"""The running event loop, known without a system call where it can be.

On Python 3.11 `asyncio.get_running_loop()` (and `asyncio.current_task()`,
which calls it) checks the process id with getpid(2) on every call: about
0.9 µs each on a loaded VM, twice per request on the hot path.
"""

from __future__ import annotations

import asyncio
from threading import get_ident


def running_loop(known: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
    """The loop running in this thread: `known` if it is that loop, else asked of asyncio.

    asyncio's own loops note the thread running them (`_thread_id`, None when
    stopped), and one thread runs one loop at a time, so a `known` loop running
    here is the running loop; any other (or none) takes the asking path, which
    raises `RuntimeError` when no loop runs.
    """
    if known is not None and getattr(known, "_thread_id", None) == get_ident():
        return known
    return asyncio.get_running_loop()
