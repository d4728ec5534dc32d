"""How an import runs (`ImportSettings`): checked once, then passed down whole."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

import attrs

from ._limiter import MAX_LIMIT, AdaptiveLimiter
from ._shard import check_shard
from ._slots import FixedLimiter, Sleep


@attrs.frozen(kw_only=True)
class ImportSettings:
    """How an import runs; `import_customers` documents each setting.

    Checked when made: a setting the import cannot run with raises ValueError.
    """

    concurrency: int | Literal["auto"] = "auto"
    max_concurrency: int = MAX_LIMIT
    rate: float | None = None
    max_attempts: int = 8
    max_rounds: int = 8
    reconcile_batch: int = 1000
    shard: tuple[int, int] | None = None
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.monotonic

    def __attrs_post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be positive requests per second, got {self.rate}")
        if self.concurrency == "auto":
            if self.max_concurrency < 1:
                raise ValueError(f"max_concurrency must be at least 1, got {self.max_concurrency}")
        elif isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int):
            raise ValueError(
                f'concurrency must be "auto" or a whole number, got {self.concurrency!r}'
            )
        elif self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_attempts < 1 or self.max_rounds < 1 or self.reconcile_batch < 1:
            raise ValueError("max_attempts, max_rounds and reconcile_batch must be at least 1")
        if self.shard is not None:
            check_shard(self.shard)

    @property
    def most_in_flight(self) -> int:
        """The most requests the import may have in flight: what to size a pool to."""
        return self.concurrency if isinstance(self.concurrency, int) else self.max_concurrency

    def limiter(self) -> AdaptiveLimiter | FixedLimiter:
        """A new limiter for one run: adaptive for "auto", else fixed at the number."""
        if self.concurrency == "auto":
            return AdaptiveLimiter(
                maximum=self.max_concurrency, max_rate=self.rate, clock=self.clock, sleep=self.sleep
            )
        return FixedLimiter(self.concurrency, rate=self.rate, clock=self.clock, sleep=self.sleep)
