"""`RetryPolicy`: how often and how long the client retries (a value, no behaviour).

Apart from the retry middleware so that a `Request` can carry the policy of its
call down the chain without the HTTP values importing the retry machinery.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from .durations import seconds


def _duration(name: str, *, none_ok: bool = False) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        seconds(name, value, none_ok=none_ok)

    return check


def _check_max_attempts(_instance: Any, _attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_attempts must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"max_attempts must be >= 1 (it counts the first attempt), got {value}")


def is_async_callable(value: object) -> bool:
    """A coroutine function, or an object whose `__call__` is one (a partial of either too)."""
    while isinstance(value, functools.partial):
        value = value.func
    if inspect.iscoroutinefunction(value):
        return True
    call = getattr(type(value), "__call__", None)  # noqa: B004 (the method, not callability)
    return call is not None and inspect.iscoroutinefunction(call)


def _check_sleep(_instance: Any, _attribute: Any, value: Any) -> None:
    # Checked here, not on the first retry: a plain function returns None, which
    # cannot be awaited, and `time.sleep` would block the event loop.
    if not is_async_callable(value):
        raise TypeError(
            "sleep must be an async callable like asyncio.sleep (an `async def` "
            f"function, or an object whose __call__ is one), got {type(value).__name__}"
        )


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How the client retries: which failures, how often, how long it waits.

    Defaults: 3 attempts in all (`max_attempts` counts the first one), backoff
    from 0.5 s doubling up to 8 s, a server's Retry-After honoured up to 60 s,
    no overall deadline. Before retry n (n = 1, 2, ...) the client waits the
    server's `Retry-After` (or `retry-after-ms`) when present and at most
    `max_retry_after` (above it: no retry, the error is raised at once);
    otherwise a uniform random time in [d/2, d] with
    d = min(max_backoff, initial_backoff * 2**(n-1)). `deadline` (seconds, None:
    none) bounds all attempts and waits together: no wait starts that would end
    past it, and the attempt in flight is cut off at it with `APITimeoutError`.
    `sleep` is awaited for every wait, so tests can inject one that only records:
    an `async def` function or an object whose `__call__` is one. Every
    duration is a finite number of seconds above 0 (`deadline` may be None),
    and `initial_backoff` is at most `max_backoff`; anything else is refused
    here, with `TypeError` or `ValueError`, not on the first retry.
    """

    max_attempts: int = attrs.field(default=3, validator=_check_max_attempts)
    initial_backoff: float = attrs.field(default=0.5, validator=_duration("initial_backoff"))
    max_backoff: float = attrs.field(default=8.0, validator=_duration("max_backoff"))
    max_retry_after: float = attrs.field(default=60.0, validator=_duration("max_retry_after"))
    deadline: float | None = attrs.field(
        default=None, validator=_duration("deadline", none_ok=True)
    )
    sleep: Callable[[float], Awaitable[Any]] = attrs.field(
        default=asyncio.sleep, validator=_check_sleep
    )

    def __attrs_post_init__(self) -> None:
        if self.initial_backoff > self.max_backoff:
            raise ValueError(
                f"initial_backoff ({self.initial_backoff:g} s) must not exceed "
                f"max_backoff ({self.max_backoff:g} s)"
            )


DEFAULT_RETRY = RetryPolicy()
NO_RETRIES = RetryPolicy(max_attempts=1)
