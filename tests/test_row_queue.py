"""The importer's queue of rows: order, waiting getters, the feeder's room, join."""

from __future__ import annotations

import asyncio

import pytest

from ecomcharge_async.bulk._row_queue import RowQueue


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_rows_come_out_in_order_and_a_waiting_getter_gets_the_next() -> None:
    queue: RowQueue[int] = RowQueue(4)
    getter = asyncio.create_task(queue.get())
    await _settle()
    assert not getter.done()
    queue.put(1)
    queue.put(2)
    assert await getter == 1
    assert queue.take() == 2
    assert not queue.items


async def test_a_getter_cancelled_after_its_wake_up_hands_the_row_on() -> None:
    queue: RowQueue[int] = RowQueue(4)
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await _settle()
    queue.put(7)  # wakes `first`, which is cancelled before it runs
    first.cancel()
    await _settle()
    assert first.cancelled()
    assert second.done()
    assert second.result() == 7


async def test_the_feeder_waits_until_a_full_queue_is_half_taken() -> None:
    queue: RowQueue[int] = RowQueue(4)
    for n in range(4):
        queue.put(n)
    assert queue.full()
    room = asyncio.create_task(queue.room())
    await _settle()
    assert not room.done()
    queue.take()
    await _settle()
    assert not room.done()  # 3 left: more than half
    queue.take()
    await _settle()
    assert room.done()  # 2 left: half
    await room
    await queue.room()  # not full: at once


async def test_join_waits_for_every_row_put_to_be_done() -> None:
    queue: RowQueue[int] = RowQueue(4)
    await queue.join()  # nothing put: at once
    queue.put(1)
    queue.put(2)
    joined = asyncio.create_task(queue.join())
    queue.take()
    queue.task_done()
    await _settle()
    assert not joined.done()
    queue.take()
    queue.task_done()
    await _settle()
    assert joined.done()
    await joined


def test_task_done_more_often_than_rows_put_is_an_error() -> None:
    queue: RowQueue[int] = RowQueue(4)
    queue.put(1)
    queue.take()
    queue.task_done()
    with pytest.raises(ValueError, match="more times than rows were put"):
        queue.task_done()
    assert queue.unfinished == 0


async def test_a_cancelled_wait_for_room_or_join_leaves_nothing_behind() -> None:
    queue: RowQueue[int] = RowQueue(2)
    queue.put(1)
    queue.put(2)
    for wait in (queue.room(), queue.join()):
        task = asyncio.ensure_future(wait)
        await asyncio.sleep(0)  # it waits: the queue is full, the rows not done
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert queue._room is None
    assert queue._joined is None
    # A getter cancelled before any row came hands nothing on: the next one takes row 3.
    queue.take()
    queue.take()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert not queue._getters  # its waiter left the line
    queue.put(3)
    assert await asyncio.wait_for(queue.get(), 5) == 3
