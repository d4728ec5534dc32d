"""The pure retry decisions and the small async retry middleware.

Whether an outcome may be retried is `_verdict`'s; how long to wait and when
to stop is `decide`'s here. The decisions are plain functions, tested without
an event loop; `RetryMiddleware` only runs the loop, measures time and sleeps
through the policy's injectable `sleep`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import attrs

from .errors import APITimeoutError, EcomChargeError, checked, retry_after
from .http import Request, Response, is_success
from .logs import request_id
from .middleware import Handler, logger, url_path
from .policy import RetryPolicy
from .running_loop import LoopSeen
from .verdict import Outcome, is_retryable, is_transient, waits_too_long


@attrs.frozen
class RetryDecision:
    """What to do after a failed attempt: wait `wait` seconds and retry, or stop (None)."""

    wait: float | None
    reason: str


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
    if isinstance(outcome, Response) and is_success(outcome.status):
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
    if server_wait is not None and waits_too_long(server_wait, policy.max_retry_after):
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

    The policy is the request's own (`Request.retry`, set per call by the
    client), else the one given here. Each retry goes down with its number in
    `Request.attempt`. The final answer is returned, any status, with
    `attempts` set when it took more than one (the caller maps a non-2xx to
    its error; with `checks`, it raises that error itself, as `checking` would
    around it); a final error is raised with `.attempts` set. Elapsed time for
    the deadline is the measured time of the attempts plus the waits asked of
    `sleep`, so an injected sleep sees the same decisions as a real one.
    Responses hold their whole body, so a discarded one holds no connection.
    """

    def __init__(
        self, policy: RetryPolicy, log: logging.Logger = logger, *, checks: bool = False
    ) -> None:
        self.policy = policy
        self._log = log
        self._checks = checks
        self._seen = LoopSeen()  # the last call's loop

    async def __call__(self, request: Request, call_next: Handler, /) -> Response:
        policy = request.retry or self.policy
        # The loop, not its bound `time` method: a method object held across the
        # await is one more object per call in flight for the collector to walk.
        loop = self._seen.running()
        elapsed = 0.0
        attempts = 0
        while True:
            attempts += 1
            started = loop.time()
            try:
                if policy.deadline is None:
                    outcome: Response | EcomChargeError = await call_next(request)
                else:
                    outcome = await _within(policy.deadline, elapsed, request, call_next)
            except EcomChargeError as exc:
                outcome = exc
            elapsed += loop.time() - started
            if isinstance(outcome, Response) and is_success(outcome.status):
                return outcome if attempts == 1 else attrs.evolve(outcome, attempts=attempts)
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
                if isinstance(outcome, Response):
                    final = outcome if attempts == 1 else attrs.evolve(outcome, attempts=attempts)
                    return checked(final) if self._checks else final
                outcome.attempts = attempts
                raise outcome
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
            request = attrs.evolve(request, attempt=attempts + 1)


async def _within(
    deadline: float, elapsed: float, request: Request, call_next: Handler
) -> Response:
    """One attempt, cut off when what is left of the call's `deadline` runs out."""
    timeout = asyncio.timeout(deadline - elapsed)
    try:
        async with timeout:
            return await call_next(request)
    except TimeoutError as exc:
        if not timeout.expired():
            raise
        raise APITimeoutError(
            f"the retry deadline of {deadline:g} s passed during attempt {request.attempt}"
        ) from exc


def _fields(request: Request, outcome: Outcome, attempts: int, elapsed: float) -> dict[str, Any]:
    """A retry log record's structured fields: no header, body or message text."""
    status = outcome.status if isinstance(outcome, Response) else getattr(outcome, "status", None)
    return {
        "operation": request.operation,
        "method": request.method,
        "path": url_path(request.url),
        "status": status,
        "attempt": attempts,
        "elapsed_ms": round(elapsed * 1000.0, 1),
        "request_id": request_id(outcome),
        "error": None if isinstance(outcome, Response) else type(outcome).__name__,
    }
