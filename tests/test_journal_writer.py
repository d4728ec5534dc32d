"""Journal records written together, once per event-loop turn, before what they announce."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from ecomcharge_async.bulk._journal import Journal
from ecomcharge_async.bulk._journal_writer import RecordWriter, done_record, sent_record


class CountingFile(io.BytesIO):
    """A file that counts the writes and flushes handed to it, and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushes = 0
        self.fail: OSError | None = None

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.fail is not None:
            raise self.fail
        self.writes += 1
        return super().write(data)

    def flush(self) -> None:
        self.flushes += 1

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")  # fsync is never due in these tests


def writer(file: CountingFile) -> RecordWriter:
    return RecordWriter(file, "import.journal", clock=lambda: 0.0, fsync_every=3600.0)


async def test_records_made_in_one_turn_are_written_at_once_before_anyone_sends() -> None:
    file = CountingFile()
    records = writer(file)
    seen_when_sending: list[bytes] = []

    async def send(n: int) -> None:
        await records.written(records.write_soon(b"%d\n" % n))
        seen_when_sending.append(file.getvalue())  # what the OS has when the request leaves

    await asyncio.gather(*(send(n) for n in range(50)))
    assert file.writes == 1
    assert file.getvalue() == b"".join(b"%d\n" % n for n in range(50))
    assert all(seen == file.getvalue() for seen in seen_when_sending)


async def test_a_record_made_after_the_turns_write_gets_a_write_of_its_own() -> None:
    file = CountingFile()
    records = writer(file)
    await records.written(records.write_soon(b"a\n"))
    await records.written(records.write_soon(b"b\n"))
    assert (file.writes, file.getvalue()) == (2, b"a\nb\n")


async def test_a_failed_write_is_raised_to_every_waiter_and_to_later_writes() -> None:
    file = CountingFile()
    records = writer(file)
    file.fail = OSError(28, "No space left on device")
    waits = [records.written(records.write_soon(b"%d\n" % n)) for n in range(3)]
    results = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(r, OSError) and r.errno == 28 for r in results)
    assert {r.filename for r in results} == {"import.journal"}  # the stop names the journal
    file.fail = None
    with pytest.raises(OSError, match="No space left"):
        records.flush()  # nothing after a failed write reaches the file out of order
    assert file.getvalue() == b""


def test_outside_an_event_loop_a_record_is_written_at_once() -> None:
    file = CountingFile()
    records = writer(file)
    records.write_soon(b"x\n")
    assert (file.writes, file.getvalue()) == (1, b"x\n")


def test_records_read_back_as_the_json_they_stand_for() -> None:
    assert json.loads(sent_record(3, 17, "00ff00ff00ff00ff")) == {
        "sent": 3,
        "line": 17,
        "key": "00ff00ff00ff00ff",
    }
    assert json.loads(done_record(3, "failed", None)) == {"done": 3, "status": "failed"}
    odd_id = 'cst_"\\\u00e9\n'  # an id the API sends is escaped, not trusted
    assert json.loads(done_record(4, "created", odd_id)) == {
        "done": 4,
        "status": "created",
        "id": odd_id,
    }


async def test_a_journal_sending_rows_together_resumes_them_all(tmp_path: Path) -> None:
    path = tmp_path / "j"
    opened = {"shop_id": "361", "base_url": "http://127.0.0.1:9", "input_id": None}
    journal = Journal(path, **opened)  # type: ignore[arg-type]
    rows = await asyncio.gather(*(journal.sending(n + 2, f"{n:016x}") for n in range(20)))
    assert sorted(rows) == list(range(20))
    for row in rows[:10]:
        journal.done(row, "created", f"cst_{row}")
    journal.close()
    created: list[str] = []
    again = Journal(path, **opened, on_created=created.append)  # type: ignore[arg-type]
    try:
        assert sorted(created) == sorted(f"cst_{row}" for row in rows[:10])
        assert again.sent(99, f"{99:016x}") == 20
    finally:
        again.close()
