"""Journal records reach the OS before what they announce, several in one write."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from conftest import SECRET, SHOP_ID
from virtual_time import simulate, virtual_sleep

import ecomcharge_async as ec
from ecomcharge_async.bulk import import_customers
from ecomcharge_async.bulk._journal import Journal
from ecomcharge_async.bulk._journal_writer import DONE_DELAY, RecordWriter
from ecomcharge_async.testing import FakeEcomCharge


class CountingFile(io.BytesIO):
    """A file that counts the writes handed to it, and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.fail: OSError | None = None

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.fail is not None:
            raise self.fail
        self.writes += 1
        return super().write(data)

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")  # fsync is never due in these tests


def writer(file: CountingFile) -> RecordWriter:
    return RecordWriter(file, "import.journal", clock=lambda: 0.0, fsync_every=3600.0)


def test_outcomes_queued_are_written_together_a_moment_later() -> None:
    file = CountingFile()

    async def main() -> None:
        records = writer(file)
        for n in range(50):
            records.write_soon(b"%d\n" % n)
        await virtual_sleep(DONE_DELAY / 2)
        assert file.writes == 0  # no callback per loop turn: one timer for them all
        await virtual_sleep(DONE_DELAY / 2)
        assert file.writes == 1
        records.write_soon(b"50\n")  # a new batch, a new timer
        await virtual_sleep(DONE_DELAY)
        assert file.writes == 2

    simulate(main)
    assert file.getvalue() == b"".join(b"%d\n" % n for n in range(51))


def test_a_sent_record_reaches_the_os_at_once_with_the_outcomes_queued_before_it() -> None:
    file = CountingFile()

    async def main() -> None:
        records = writer(file)
        records.write_soon(b"done 1\n")
        records.write_soon(b"done 2\n")
        records.write_now(b"sent 3\n")  # returns once handed to the OS: the request may leave
        assert file.writes == 1
        assert file.getvalue() == b"done 1\ndone 2\nsent 3\n"
        await virtual_sleep(DONE_DELAY)  # the timer finds nothing left to write
        assert file.writes == 1

    simulate(main)


def test_closing_writes_what_is_queued_and_stops_the_timer(tmp_path: Path) -> None:
    path = tmp_path / "records"

    async def main() -> None:
        file = path.open("ab", buffering=0)
        records = RecordWriter(file, str(path), clock=lambda: 0.0, fsync_every=3600.0)
        records.write_soon(b"done 1\n")
        records.close()
        assert file.closed
        assert path.read_bytes() == b"done 1\n"
        await virtual_sleep(2 * DONE_DELAY)  # the loop goes on: no timer left to fire
        assert not asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
        records.close()  # twice is harmless

    simulate(main)
    assert path.read_bytes() == b"done 1\n"


def test_a_failed_write_is_raised_by_every_later_write() -> None:
    file = CountingFile()

    async def main() -> None:
        records = writer(file)
        file.fail = OSError(28, "No space left on device")
        records.write_soon(b"done 1\n")
        await virtual_sleep(DONE_DELAY)  # the timer's write fails: kept for the next write
        file.fail = None
        for _ in range(2):
            with pytest.raises(OSError, match="No space left") as raised:
                records.write_now(b"sent 2\n")
            assert (raised.value.errno, raised.value.filename) == (28, "import.journal")
        with pytest.raises(OSError, match="No space left"):
            records.flush()  # nothing after a failed write reaches the file out of order

    simulate(main)
    assert file.getvalue() == b""


class TrickleFile(CountingFile):
    """An unbuffered file that takes at most a few bytes per write, as write(2) may."""

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return super().write(bytes(data[:5]))


def test_a_write_that_takes_part_of_the_records_is_finished_in_order() -> None:
    file = TrickleFile()
    records = writer(file)
    records.write_now(b'{"sent":0,"line":2,"key":"00ff00ff00ff00ff"}\n')
    records.write_now(b'{"done":0,"status":"failed"}\n')
    assert file.getvalue() == (
        b'{"sent":0,"line":2,"key":"00ff00ff00ff00ff"}\n{"done":0,"status":"failed"}\n'
    )


def test_outside_an_event_loop_a_record_is_written_at_once() -> None:
    file = CountingFile()
    records = writer(file)
    records.write_soon(b"x\n")
    assert (file.writes, file.getvalue()) == (1, b"x\n")


def test_a_flush_in_a_loop_that_then_closes_leaves_no_timer_behind() -> None:
    file = CountingFile()
    records = writer(file)

    async def import_run() -> None:
        records.write_soon(b"1\n")  # its timer is armed on this loop
        records.flush()  # as the import does at its end, before the loop closes

    simulate(import_run)
    assert file.getvalue() == b"1\n"
    records.write_soon(b"2\n")  # outside any loop: written at once, not left to a dead timer
    assert file.getvalue() == b"1\n2\n"

    async def next_run() -> None:
        records.write_soon(b"3\n")
        await virtual_sleep(DONE_DELAY)  # a timer of this loop's own writes it
        assert file.getvalue() == b"1\n2\n3\n"

    simulate(next_run)


def test_records_read_back_as_the_json_they_stand_for() -> None:
    file = CountingFile()
    records = writer(file)  # outside a loop: each record at once
    odd_id = 'cst_"\\\u00e9\n\u2028\U0001f600'  # an id the API sends is escaped, not trusted
    records.sent(3, 17, "00ff00ff00ff00ff")
    records.done(3, "failed", None)
    records.done(4, "created", odd_id)
    records.done(5, "rejected", "cst_1")
    written = file.getvalue().splitlines(keepends=True)
    assert [json.loads(line) for line in written] == [
        {"sent": 3, "line": 17, "key": "00ff00ff00ff00ff"},
        {"done": 3, "status": "failed"},
        {"done": 4, "status": "created", "id": odd_id},
        {"done": 5, "status": "rejected", "id": "cst_1"},
    ]
    # Byte for byte what json.dumps writes, as journals already on disk hold them.
    assert written == [
        json.dumps(json.loads(line), separators=(",", ":")).encode() + b"\n" for line in written
    ]


async def test_rows_sent_and_ended_in_one_turn_resume_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    opened = {"shop_id": "361", "base_url": "http://127.0.0.1:9", "input_id": None}
    journal = Journal(path, **opened)  # type: ignore[arg-type]
    rows = [journal.sent(n + 2, f"{n:016x}") for n in range(20)]
    assert rows == list(range(20))
    for row in rows[:10]:
        journal.done(row, "created", f"cst_{row}")  # queued: close writes them
    journal.close()
    created: list[str] = []
    again = Journal(path, **opened, on_created=created.append)  # type: ignore[arg-type]
    try:
        assert sorted(created) == sorted(f"cst_{row}" for row in rows[:10])
        assert again.sent(99, f"{99:016x}") == 20
    finally:
        again.close()


class JournalWatch:
    """A transport that reads the journal file as each create arrives, then passes it on."""

    def __init__(self, inner: ec.Transport, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.creates = 0
        self.short: list[int] = []  # creates that arrived before their `sent` record

    async def send(self, request: ec.Request) -> ec.Response:
        if request.method == "POST":
            self.creates += 1
            recorded = self.path.read_bytes().count(b'{"sent":')
            if recorded < self.creates:
                self.short.append(self.creates)
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_every_create_leaves_after_its_sent_record_reached_the_os(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    path = tmp_path / "import.journal"
    watch = JournalWatch(fake.transport(), path)
    rows = [ec.NewCustomer(email=f"user{n}@example.com", ip="10.0.0.1") for n in range(300)]
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=watch) as client:
        report = await import_customers(client, rows, journal=path, concurrency=32)
    assert (report.created, watch.creates, watch.short) == (300, 300, [])
    assert path.read_bytes().count(b'{"done":') == 300
