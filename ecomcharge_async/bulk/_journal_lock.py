"""One import per journal: an exclusive lock on the file, and who holds it.

Each run records its pid in the journal right after taking the lock, so a second
import refused the lock can say which process holds it.
"""

from __future__ import annotations

import os
import re
import time
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_RUN = re.compile(rb'\{"run":(\d+),')
#: How long a refused import waits for the holder to record its pid (it does at once).
PID_WAIT = 1.0


def lock(file: IO[bytes]) -> bool:
    """Take the journal's lock without waiting; False if another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def holder_pid(path: str) -> int | None:
    """The pid the latest run recorded, waiting briefly for a holder that just started.

    A holder that has the lock but has not yet recorded its run leaves the
    previous run's pid last: a pid no process has is waited past.
    """
    deadline = time.monotonic() + PID_WAIT
    while True:
        pid = _last_run_pid(path)
        if (pid is not None and _alive(pid)) or time.monotonic() > deadline:
            return pid
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process
        return True
    return True


def _last_run_pid(path: str) -> int | None:
    found = None
    tail = b""
    try:
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                text = tail + chunk
                for match in _RUN.finditer(text):
                    found = match.group(1)
                tail = text[-32:]
    except OSError:
        return None
    return int(found) if found is not None else None
