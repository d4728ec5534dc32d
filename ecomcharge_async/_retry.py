"""`RetryPolicy`, the pure retry decisions, and the small async retry middleware.

The decisions (is this outcome retryable for this method? how long to wait?)
are plain functions, tested without an event loop; `RetryMiddleware` only runs
the loop, measures time and sleeps through the policy's injectable `sleep`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import attrs

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ConnectError,
    EcomChargeError,
    error_from_response,
    retry_after,
)
from ._http import Request, Response
from ._logs import request_id
from ._middleware import Handler, current_attempt, logger, url_path

#: Methods that may be replayed after an ambiguous failure (RFC 9110 idempotent methods).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Statuses that mean the request was not processed: retried for every method.
RETRIED_FOR_EVERY_METHOD = frozenset({408, 429, 503})
#: Statuses after which the request may have been processed: retried only if idempotent.
RETRIED_IF_IDEMPOTENT = frozenset({500, 502, 504})

Outcome = Response | BaseException


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


@attrs.frozen
class RetryDecision:
    """What to do after a failed attempt: wait `wait` seconds and retry, or stop (None)."""

    wait: float | None
    reason: str


def is_success(response: Response) -> bool:
    """2xx: the only answers the chain returns instead of raising."""
    return 200 <= response.status < 300


def is_retryable(method: str, outcome: Outcome) -> bool:
    """Whether this kind of failure may be retried for `method`, limits aside."""
    idempotent = method.upper() in IDEMPOTENT_METHODS
    if isinstance(outcome, Response):
        status = outcome.status
        return status in RETRIED_FOR_EVERY_METHOD or (
            idempotent and status in RETRIED_IF_IDEMPOTENT
        )
    if isinstance(outcome, ConnectError):
        return True  # the request surely never left: safe for any method
    return idempotent and isinstance(outcome, APIConnectionError)


def is_transient(outcome: Outcome) -> bool:
    """Whether this failure is worth a retry for some method (for a GET it is)."""
    return is_retryable("GET", outcome)


def backoff(policy: RetryPolicy, retry: int, rand: float) -> float:
    """The jittered wait before retry `retry` (1, 2, ...): in [d/2, d], `rand` in [0, 1)."""
    if retry < 1:
        raise ValueError(f"retry numbers start at 1, got {retry}")
    d = min(policy.max_backoff, policy.initial_backoff * 2.0 ** (retry - 1))
    return d / 2.0 + rand * d / 2.0


def describe(outcome: Outcome) -> str:
    """A short, secret-free name for an outcome, for logs: `HTTP 503`, `ConnectError`."""
    if isinstance(outcome, Response):
        return f"HTTP {outcome.status}"
    return type(outcome).__name__


def decide(
    policy: RetryPolicy,
    method: str,
    outcome: Outcome,
    *,
    attempts: int,
    elapsed: float,
    rand: float,
    now: float | None = None,
) -> RetryDecision:
    """Retry or stop after `attempts` attempts that took `elapsed` seconds with the waits.

    `rand` in [0, 1) picks the jitter; `now` (epoch seconds) resolves an
    HTTP-date Retry-After. Pure: no clock, no randomness, no I/O of its own.
    """
    what = describe(outcome)
    if isinstance(outcome, Response) and is_success(outcome):
        return RetryDecision(None, f"{what} succeeded")
    if not is_retryable(method, outcome):
        if is_transient(outcome):
            return RetryDecision(
                None, f"{what}: a {method.upper()} that may have reached the server is not replayed"
            )
        return RetryDecision(None, f"{what} is not retried")
    if attempts >= policy.max_attempts:
        return RetryDecision(None, f"{what} after {attempts} of {policy.max_attempts} attempts")
    server_wait = retry_after(outcome, now=now) if isinstance(outcome, Response) else None
    if server_wait is not None and server_wait > policy.max_retry_after:
        return RetryDecision(
            None,
            f"{what} with Retry-After {server_wait:g} s above "
            f"max_retry_after {policy.max_retry_after:g} s",
        )
    wait = server_wait if server_wait is not None else backoff(policy, attempts, rand)
    if policy.deadline is not None and elapsed + wait >= policy.deadline:
        return RetryDecision(
            None,
            f"{what}; waiting {wait:.2f} s would reach the {policy.deadline:g} s deadline",
        )
    source = "Retry-After" if server_wait is not None else "backoff"
    return RetryDecision(wait, f"{what}, waiting {wait:.2f} s ({source})")


class RetryMiddleware:
    """Runs the inner chain until success or until the policy says stop.

    A 2xx response is returned. When it stops, it raises: the last error, or
    the error the last non-2xx response maps to, with `.attempts` set. Elapsed
    time for the deadline is the measured time of the attempts plus the waits
    asked of `sleep`, so an injected sleep sees the same decisions as a real one.
    Responses hold their whole body, so a discarded one holds no connection.
    """

    def __init__(self, policy: RetryPolicy, log: logging.Logger = logger) -> None:
        self.policy = policy
        self._log = log

    async def __call__(self, request: Request, call_next: Handler, /) -> Response:
        policy = self.policy
        # The loop, not its bound `time` method: a method object held across the
        # await is one more object per call in flight for the collector to walk.
        loop = asyncio.get_running_loop()
        elapsed = 0.0
        attempts = 0
        while True:
            attempts += 1
            started = loop.time()
            outcome = await self._attempt(request, call_next, attempts, elapsed)
            elapsed += loop.time() - started
            if isinstance(outcome, Response) and is_success(outcome):
                return outcome
            decision = decide(
                policy,
                request.method,
                outcome,
                attempts=attempts,
                elapsed=elapsed,
                rand=random.random(),
            )
            if decision.wait is None:
                if attempts > 1 or is_transient(outcome):
                    self._log.warning(
                        "%s %s: giving up after %d attempt(s): %s",
                        request.method,
                        url_path(request.url),
                        attempts,
                        decision.reason,
                        extra=_fields(request, outcome, attempts, elapsed),
                    )
                _raise(outcome, attempts)
            self._log.info(
                "%s %s: %s before attempt %d of %d",
                request.method,
                url_path(request.url),
                decision.reason,
                attempts + 1,
                policy.max_attempts,
                extra={
                    **_fields(request, outcome, attempts, elapsed),
                    "wait_s": round(decision.wait, 3),
                },
            )
            await policy.sleep(decision.wait)
            elapsed += decision.wait

    async def _attempt(
        self, request: Request, call_next: Handler, attempt: int, elapsed: float
    ) -> Response | EcomChargeError:
        """One attempt, bounded by what is left of the deadline; our errors are returned.

        The attempt number is set only when it differs from what inner layers
        already read (1, the default, on a first attempt): each set allocates a
        token and a new context mapping per call, which at concurrency 64 cost
        young-generation garbage collections.
        """
        token = current_attempt.set(attempt) if current_attempt.get() != attempt else None
        try:
            if self.policy.deadline is None:
                return await call_next(request)
            left = self.policy.deadline - elapsed
            timeout = asyncio.timeout(left)
            try:
                async with timeout:
                    return await call_next(request)
            except TimeoutError as exc:
                if not timeout.expired():
                    raise
                raise APITimeoutError(
                    f"the retry deadline of {self.policy.deadline:g} s passed during "
                    f"attempt {attempt}"
                ) from exc
        except EcomChargeError as exc:
            return exc
        finally:
            if token is not None:
                current_attempt.reset(token)


def _fields(request: Request, outcome: Outcome, attempts: int, elapsed: float) -> dict[str, Any]:
    """A retry log record's structured fields: no header, body or message text."""
    status = outcome.status if isinstance(outcome, Response) else getattr(outcome, "status", None)
    return {
        "method": request.method,
        "path": url_path(request.url),
        "status": status,
        "attempt": attempts,
        "elapsed_ms": round(elapsed * 1000.0, 1),
        "request_id": request_id(outcome),
        "error": None if isinstance(outcome, Response) else type(outcome).__name__,
    }


def _raise(outcome: Response | EcomChargeError, attempts: int) -> NoReturn:
    error = error_from_response(outcome) if isinstance(outcome, Response) else outcome
    error.attempts = attempts
    raise error
