"""Reading the whole shop past a `ShopMatcher`, for the importer's reconciliation rounds."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Container

from .._core.client import Client
from .._core.errors import AuthenticationError, EcomChargeError, RateLimitError
from .._core.verdict import waits_too_long
from ._pacing import Pause
from ._reconcile import Key, ShopMatcher


async def scan_shop(
    client: Client,
    wanted: Counter[Key],
    created: Container[str],
    *,
    wait_turn: Callable[[], Awaitable[int]],
    pause: Pause,
    max_attempts: int,
    max_retry_after: float,
) -> ShopMatcher:
    """Stream the shop past a matcher; a broken stream is read again from the start.

    Each read waits its turn with the import's creates (`wait_turn`); a failed
    one pauses them all, as a failed create does.
    """
    attempt = 0
    while True:
        generation = await wait_turn()
        matcher = ShopMatcher(wanted, created)
        try:
            async with contextlib.aclosing(client.customers.iter()) as shop:
                async for customer in shop:
                    matcher.offer(customer)
        except EcomChargeError as exc:
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
        pause.clear()
        return matcher
