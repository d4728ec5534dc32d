"""`RetryPolicy`: how often and how long the client retries (a value, no behaviour).

Apart from the retry middleware so that a `Request` can carry the policy of its
call down the chain without the HTTP values importing the retry machinery.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import attrs


def _number(name: str, *, allow_zero: bool = True) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        low = ">= 0" if allow_zero else "> 0"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number of seconds {low}, got {value!r}")
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise ValueError(f"{name} must be a finite number of seconds {low}, got {value!r}")

    return check


def _check_max_attempts(_instance: Any, _attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_attempts must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"max_attempts must be >= 1 (it counts the first attempt), got {value}")


def _check_deadline(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        _number("deadline", allow_zero=False)(instance, attribute, value)


def _check_sleep(_instance: Any, _attribute: Any, value: Any) -> None:
    if not callable(value):
        raise TypeError(f"sleep must be an async callable like asyncio.sleep, got {value!r}")


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
    `sleep` is awaited for every wait, so tests can inject one that only records.
    """

    max_attempts: int = attrs.field(default=3, validator=_check_max_attempts)
    initial_backoff: float = attrs.field(default=0.5, validator=_number("initial_backoff"))
    max_backoff: float = attrs.field(default=8.0, validator=_number("max_backoff"))
    max_retry_after: float = attrs.field(default=60.0, validator=_number("max_retry_after"))
    deadline: float | None = attrs.field(default=None, validator=_check_deadline)
    sleep: Callable[[float], Awaitable[Any]] = attrs.field(
        default=asyncio.sleep, validator=_check_sleep
    )


DEFAULT_RETRY = RetryPolicy()
NO_RETRIES = RetryPolicy(max_attempts=1)
