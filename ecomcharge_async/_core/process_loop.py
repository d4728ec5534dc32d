"""One SDK loop per process (`loop_thread`), started on first use, left alone after `os.fork()`,
stopped at interpreter exit.

Shared by every `SyncClient`, so threads share one connection pool per client
and a call made from inside a running event loop (a notebook cell) never nests
loops. After `os.fork()` the child starts a loop of its own on first use and
leaves the parent's alone: its selector and sockets are the parent's, and
touching them would disturb it. At interpreter exit the clients still open are
closed and the loop stopped, whoever was running it, so nothing is left to
complain on stderr.
"""

from __future__ import annotations

import atexit
import os
import threading

from .loop_thread import LoopThread

#: How long interpreter exit waits for the open clients to close, in seconds.
EXIT_TIMEOUT = 5.0

_lock = threading.Lock()
_current: LoopThread | None = None
#: Loops inherited from the parent process: kept, never touched, never collected.
_inherited: list[LoopThread] = []
#: Bumped in a forked child, so clients know their connections are the parent's.
generation = 0


def loop_thread() -> LoopThread:
    """This process's SDK loop, started on first use."""
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            _current = LoopThread()
        return _current


def _after_fork_in_child() -> None:
    global _current, _lock, generation
    _lock = threading.Lock()  # the parent's may have been held by a thread that is gone
    generation += 1
    if _current is not None:
        _current.abandoned = True
        _inherited.append(_current)
        _current = None


def _at_exit() -> None:
    if _current is not None:
        _current.shutdown(EXIT_TIMEOUT)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
