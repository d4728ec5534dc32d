"""Reading the whole shop past a `ShopMatcher`, for the importer's reconciliation rounds."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Container

from .._core.client import Client
from .._core.errors import AuthenticationError, EcomChargeError, RateLimitError
from .._core.verdict import waits_too_long
from ._pacing import Limiter, Pause, take_turn
from ._reconcile import Key, ShopMatcher
from ._slots import Outcome, outcome_of


async def scan_shop(
    client: Client,
    wanted: Counter[Key],
    created: Container[str],
    *,
    pause: Pause,
    limiter: Limiter,
    max_attempts: int,
    max_retry_after: float,
) -> ShopMatcher:
    """Stream the shop past a matcher; a broken stream is read again from the start.

    Each read takes one of the limiter's slots, in turn with the import's
    creates; a failed one pauses them all, as a failed create does. A read's
    length says nothing about the API's latency: only its failures teach the
    limiter.
    """
    attempt = 0
    while True:
        generation, token = await take_turn(pause, limiter)
        matcher = ShopMatcher(wanted, created)
        outcome = Outcome.OTHER
        try:
            async with contextlib.aclosing(client.customers.iter()) as shop:
                async for customer in shop:
                    matcher.offer(customer)
        except EcomChargeError as exc:
            outcome = outcome_of(exc)
            attempt += 1
            retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
            if (
                isinstance(exc, AuthenticationError)
                or attempt >= max_attempts
                or waits_too_long(retry_after, max_retry_after)
            ):
                raise
            pause.trip(generation, retry_after)
            continue
        finally:
            limiter.release(token, outcome)
        pause.clear()
        return matcher
