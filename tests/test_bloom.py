"""The Bloom filter of ids a bulk import created: no false negatives, bounded errors, small."""

from __future__ import annotations

import pytest

from ecomcharge_async.bulk._bloom import ERROR_PER_KEY, FIRST, LARGEST, MAX_HASHES, BloomFilter


def ids(start: int, stop: int) -> list[str]:
    return [f"cst_{n:016x}" for n in range(start, stop)]


def test_every_string_added_is_found_across_slices() -> None:
    seen = BloomFilter(first=64, largest=1024)
    added = ids(0, 5000)  # slices of 64, 128, ..., 1024, then 1024 each
    for value in added:
        seen.add(value)
    assert len(seen) == 5000
    assert all(value in seen for value in added)
    assert repr(seen).startswith("BloomFilter(5000 added, ")


def test_an_empty_filter_finds_nothing() -> None:
    seen = BloomFilter()
    assert "cst_1" not in seen
    assert 17 not in seen
    assert len(seen) == 0


@pytest.mark.parametrize("count", [100, 1000, 5000])
def test_false_positives_stay_within_the_bound(count: int) -> None:
    # A high error rate per key, so that the measured rate is large enough to compare.
    seen = BloomFilter(first=128, largest=1024, error_per_key=0.02 / 1024)
    for value in ids(0, count):
        seen.add(value)
    others = ids(10**6, 10**6 + 40_000)
    rate = sum(value in seen for value in others) / len(others)
    assert seen.error_bound == pytest.approx(0.02 / 1024 * _capacity(count))
    assert rate <= 1.2 * seen.error_bound + 0.001


def _capacity(count: int) -> int:
    """What the slices of 128, 256, 512, 1024, 1024, ... hold once `count` are added."""
    capacity, size = 0, 128
    while capacity < count:
        capacity += size
        size = min(2 * size, 1024)
    return capacity


@pytest.mark.parametrize(
    ("capacity", "hashes", "bits_per_key"),
    # At most MAX_HASHES bits per id (the optimal 16, 15 and 10 took 23.1, 21.6 and 14.4).
    [(FIRST, MAX_HASHES, 34.9), (2 * FIRST, MAX_HASHES, 30.7), (LARGEST, MAX_HASHES, 15.8)],
)
def test_slices_are_sized_for_their_share_of_the_error(
    capacity: int, hashes: int, bits_per_key: float
) -> None:
    seen = BloomFilter(first=capacity, largest=capacity)
    (piece,) = seen._slices
    assert piece.hashes == hashes
    assert piece.size / capacity == pytest.approx(bits_per_key, abs=0.1)
    assert seen.error_bound == pytest.approx(ERROR_PER_KEY * capacity)


def test_the_defaults_cost_about_two_bytes_per_id_and_grow_in_slices() -> None:
    seen = BloomFilter()
    assert seen.nbytes == pytest.approx(FIRST * 34.9 / 8, rel=0.01)  # 71 KB before any add
    for value in ids(0, FIRST + 1):
        seen.add(value)
    assert len(seen._slices) == 2
    assert seen.error_bound == pytest.approx(ERROR_PER_KEY * 3 * FIRST)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"first": 0}, "need 1 <= first <= largest"),
        ({"first": 2048, "largest": 1024}, "need 1 <= first <= largest"),
        ({"error_per_key": 0.0}, r"must be in \(0, 1\)"),
        ({"error_per_key": 1.0}, r"must be in \(0, 1\)"),
    ],
)
def test_bad_sizes_are_refused(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        BloomFilter(**kwargs)  # type: ignore[arg-type]


def test_false_positives_stay_within_the_bound_where_fewer_bits_than_optimal_are_set() -> None:
    # Per slice 0.5 %: optimal would be 8 bits per id, MAX_HASHES sized up for it instead.
    seen = BloomFilter(first=4096, largest=4096, error_per_key=0.005 / 4096)
    assert seen._slices[0].hashes == MAX_HASHES < 8
    for value in ids(0, 4096):
        seen.add(value)
    others = ids(10**6, 10**6 + 100_000)
    rate = sum(value in seen for value in others) / len(others)
    assert seen.error_bound == pytest.approx(0.005)
    assert 0.5 * seen.error_bound <= rate <= 1.2 * seen.error_bound
