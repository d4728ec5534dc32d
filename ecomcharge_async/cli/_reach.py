"""Fail fast when the API cannot be reached: a middleware that watches connection failures.

A wrong URL, a DNS typo or a firewall would otherwise cost every row its whole
retry budget before a word appears. The watch sees every call's outcome; when
connection failures (refused, DNS, TLS, connect timeout: `ConnectError`) keep
coming with no answer in between (any HTTP status counts as an answer) for
`first_deadline` seconds before the API ever answered, or `later_deadline`
seconds after, it calls `on_stop` with one line naming the URL and the cause.
A timer decides, not the next failure, so connects that hang are cut off too.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import time
from collections.abc import Callable

from .._core.errors import APIError, ConnectError, DecodeError
from .._core.http import Request, Response
from .._core.middleware import Handler


def cause(exc: BaseException) -> str:
    """What went wrong with a connection, in a few words, from the exceptions under it."""
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__name__
        number = seen.errno if isinstance(seen, OSError) else None
        if isinstance(seen, ConnectionRefusedError) or number == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(seen, ssl.SSLError) or "SSL" in name or "Certificate" in name:
            return "TLS handshake failed"
        if name in ("gaierror", "ClientConnectorDNSError"):
            return "host name not resolved"
        if isinstance(seen, TimeoutError) or "timed out" in str(seen) or "Timeout" in name:
            return "connect timed out"
        if number in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "network unreachable"
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


class ReachWatch:
    """Per-call middleware: calls `on_stop(line)` once the API stays unreachable too long."""

    def __init__(
        self,
        base_url: str,
        *,
        first_deadline: float,
        later_deadline: float,
        on_stop: Callable[[str], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        self.first_deadline = first_deadline
        self.later_deadline = later_deadline
        self._on_stop = on_stop
        self._clock = clock
        self.answered = False
        self._last_answer = float("-inf")
        self._streak_start: float | None = None
        self._streak = 0  # failures in the current streak
        self._generation = 0
        self._cause = ""
        self._timer: asyncio.TimerHandle | None = None
        self.stopped = False

    async def __call__(self, request: Request, call_next: Handler, /) -> Response:
        started = self._clock()
        try:
            response = await call_next(request)
        except ConnectError as exc:
            self._failed(started, exc)
            raise
        except (APIError, DecodeError):
            self._answer()
            raise
        if self._timer is None and self.answered:  # `_answer`'s common case, inline
            self._last_answer = self._clock()
            return response
        self._answer()
        return response

    def _answer(self) -> None:
        self._last_answer = self._clock()
        if self._timer is None and self.answered:
            return  # no streak under way, no timer to void: nothing more to do
        self.answered = True
        self._streak_start = None
        self._generation += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _failed(self, started: float, exc: ConnectError) -> None:
        self._cause = cause(exc)
        if self._streak_start is None:
            self._streak_start = max(started, self._last_answer)
            self._streak = 0
            bound = self.later_deadline if self.answered else self.first_deadline
            delay = max(0.0, self._streak_start + bound - self._clock())
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay, self._expire, self._generation)
        self._streak += 1

    def _expire(self, generation: int) -> None:
        if generation != self._generation or self._streak_start is None or self.stopped:
            return
        self.stopped = True
        took = self._clock() - self._streak_start
        attempts = f"{self._streak} attempt{'s' if self._streak != 1 else ''}"
        self._on_stop(
            f"cannot reach {self.base_url}: {self._cause} (after {attempts} in {took:.0f} s)"
        )

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
