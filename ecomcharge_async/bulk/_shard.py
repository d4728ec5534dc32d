"""Sharding one import across n workers: which rows are whose, and reading `k/n`.

Shards are numbered from 0, like Kubernetes' JOB_COMPLETION_INDEX, and split by
input line (`line % n == k`): deterministic, stable under re-runs of the same
input, and balanced, with no coordination between the workers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

Shard = tuple[int, int]
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"


def check_shard(shard: Shard) -> Shard:
    """`shard` if it is (k, n) with 0 <= k < n, else a ValueError saying why."""
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be (k, n) with 0 <= k < n, got ({index}, {count})")
    return shard


def in_shard(line: int, shard: Shard) -> bool:
    """Whether input line `line` belongs to shard (k, n)."""
    return line % shard[1] == shard[0]


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """`"k/n"` as (k, n); `k` may be `JOB_COMPLETION_INDEX`, read from the environment."""
    index_text, slash, count_text = text.partition("/")
    if not slash:
        raise ValueError(f"shard must look like k/n (e.g. 0/3), got {text!r}")
    if index_text == INDEX_VARIABLE:
        env = os.environ if environ is None else environ
        if INDEX_VARIABLE not in env:
            raise ValueError(f"shard {text!r} reads ${INDEX_VARIABLE}, which is not set")
        index_text = env[INDEX_VARIABLE]
    try:
        shard = (int(index_text), int(count_text))
    except ValueError:
        raise ValueError(f"shard must be two whole numbers k/n, got {text!r}") from None
    return check_shard(shard)
