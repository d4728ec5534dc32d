"""Sharding: which lines a shard takes, and reading `k/n` (or JOB_COMPLETION_INDEX/n)."""

from __future__ import annotations

import pytest

from ecomcharge_async.bulk._shard import check_shard, in_shard, parse_shard


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_split_the_lines_with_no_overlap_and_no_gap(count: int) -> None:
    lines = range(1, 1001)
    taken = [[line for line in lines if in_shard(line, (k, count))] for k in range(count)]
    assert sorted(line for shard in taken for line in shard) == list(lines)
    assert max(map(len, taken)) - min(map(len, taken)) <= 1


@pytest.mark.parametrize(
    ("text", "environ", "shard"),
    [
        ("0/3", {}, (0, 3)),
        ("2/3", {}, (2, 3)),
        ("0/1", {}, (0, 1)),
        ("JOB_COMPLETION_INDEX/4", {"JOB_COMPLETION_INDEX": "3"}, (3, 4)),
    ],
)
def test_parse_shard(text: str, environ: dict[str, str], shard: tuple[int, int]) -> None:
    assert parse_shard(text, environ) == shard


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("3", {}, "must look like k/n"),
        ("3/3", {}, r"0 <= k < n, got \(3, 3\)"),
        ("-1/3", {}, "0 <= k < n"),
        ("0/0", {}, "0 <= k < n"),
        ("a/3", {}, "two whole numbers"),
        ("1/three", {}, "two whole numbers"),
        ("JOB_COMPLETION_INDEX/3", {}, r"reads \$JOB_COMPLETION_INDEX, which is not set"),
        ("JOB_COMPLETION_INDEX/3", {"JOB_COMPLETION_INDEX": "5"}, "0 <= k < n"),
    ],
)
def test_bad_shards_say_why(text: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shard(text, environ)


def test_check_shard_returns_a_good_shard() -> None:
    assert check_shard((1, 2)) == (1, 2)
