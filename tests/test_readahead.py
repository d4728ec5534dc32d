"""Rows read in a daemon thread: order, errors, a bounded read-ahead, stopping, closing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from ecomcharge_async.bulk._readahead import ThreadedRows

BOUND = 10  # seconds: a bound on waits that end at once when the code is right


class Blocking:
    """An iterator whose `block_at`-th item waits for `release`, as a read of a quiet pipe."""

    def __init__(self, count: int, *, block_at: int | None = None) -> None:
        self.count = count
        self.block_at = block_at
        self.pulled = 0
        self.blocked = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[int]:
        for n in range(self.count):
            if n == self.block_at:
                self.blocked.set()
                assert self.release.wait(BOUND)
            self.pulled += 1
            yield n


@pytest.mark.parametrize("ahead", [1, 2, 16])
async def test_rows_come_in_order_and_an_error_after_the_rows_before_it(ahead: int) -> None:
    def rows() -> Iterator[int]:
        yield from range(1000)
        raise ValueError("line 1001: not UTF-8 text")

    seen: list[int] = []

    async def read_all() -> None:
        async with asyncio.timeout(BOUND):
            async for n in ThreadedRows(rows(), ahead=ahead):
                seen.append(n)

    with pytest.raises(ValueError, match="line 1001"):
        await read_all()
    assert seen == list(range(1000))


async def test_an_error_is_raised_once_then_the_rows_end() -> None:
    def rows() -> Iterator[int]:
        yield 1
        raise ValueError("line 2: not UTF-8 text")

    threaded = ThreadedRows(rows())
    async with asyncio.timeout(BOUND):
        assert await anext(threaded) == 1
        with pytest.raises(ValueError, match="line 2"):
            await anext(threaded)
        with pytest.raises(StopAsyncIteration):
            await anext(threaded)


def test_a_read_ahead_of_no_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="ahead must be at least 1 row, got 0"):
        ThreadedRows(iter([1]), ahead=0)


async def test_the_thread_reads_a_bounded_number_of_rows_ahead() -> None:
    taken = 0
    lead = 0
    ahead = 8

    def rows() -> Iterator[int]:
        nonlocal lead
        for n in range(2000):
            lead = max(lead, n - taken)
            yield n

    async with asyncio.timeout(BOUND):
        async for _ in ThreadedRows(rows(), ahead=ahead):
            taken += 1
            await asyncio.sleep(0)  # the thread may run on meanwhile
    assert taken == 2000
    # Handed out from one batch, waiting in the next, one in the reader's hand.
    assert lead <= 2 * ahead + 1


async def test_stop_ends_an_iteration_waiting_for_a_row_at_once() -> None:
    source = Blocking(10, block_at=3)
    rows = ThreadedRows(iter(source), name="rows-to-stop")
    assert [await anext(rows) for _ in range(3)] == [0, 1, 2]
    waiting = asyncio.ensure_future(anext(rows))
    assert await asyncio.to_thread(source.blocked.wait, BOUND)
    rows.stop()
    async with asyncio.timeout(BOUND):
        with pytest.raises(StopAsyncIteration):
            await waiting
    source.release.set()  # the read returns: the thread reads no further
    (thread,) = [t for t in threading.enumerate() if t.name == "rows-to-stop"]
    await asyncio.to_thread(thread.join, BOUND)
    assert source.pulled == 4


async def test_close_during_a_read_hands_the_closing_to_the_reader_thread() -> None:
    source = Blocking(10, block_at=1)
    rows = ThreadedRows(iter(source))
    assert await anext(rows) == 0
    assert await asyncio.to_thread(source.blocked.wait, BOUND)
    closed = threading.Event()
    rows.close(closed.set)  # returns at once, the read still blocked
    assert not closed.is_set()
    source.release.set()
    assert await asyncio.to_thread(closed.wait, BOUND)
    assert source.pulled == 2
    with pytest.raises(StopAsyncIteration):
        await anext(rows)


async def test_close_before_any_read_closes_at_once_and_starts_no_thread() -> None:
    source = Blocking(3)
    rows = ThreadedRows(iter(source))
    closed = threading.Event()
    rows.close(closed.set)
    assert closed.is_set()
    with pytest.raises(StopAsyncIteration):
        await anext(rows)
    assert source.pulled == 0


async def test_a_cancelled_wait_leaves_the_rows_to_a_later_one() -> None:
    source = Blocking(3, block_at=1)
    rows = ThreadedRows(iter(source))
    assert await anext(rows) == 0
    waiting = asyncio.ensure_future(anext(rows))
    assert await asyncio.to_thread(source.blocked.wait, BOUND)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    source.release.set()
    async with asyncio.timeout(BOUND):
        assert [n async for n in rows] == [1, 2]
