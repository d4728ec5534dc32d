"""The bulk-import journal: what it records, what it refuses, how it survives a crash."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ecomcharge_async.bulk._journal import (
    CREATED,
    FAILED,
    REJECTED,
    SENT,
    Journal,
    JournalError,
)
from ecomcharge_async.bulk._journal_lock import lock

IDENTITY = {"shop_id": "361", "base_url": "https://api.ecomcharge.com", "input_id": "sha256:ab"}


def open_journal(path: Path, **changes: str | None) -> Journal:
    return Journal(path, **{**IDENTITY, **changes})  # type: ignore[arg-type]


def test_a_new_journal_starts_with_a_header_naming_the_import(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    assert journal.sent(2, "00ff00ff00ff00ff") == 0
    journal.done(0, "created", "cst_0000000000000001")
    assert journal.sent(3, "00ff00ff00ff00fe") == 1
    journal.done(1, "rejected")
    journal.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {
            "journal": "ecomcharge-bulk-import",
            "version": 2,
            "shop_id": "361",
            "base_url": "https://api.ecomcharge.com",
            "shard": None,
        },
        {"run": os.getpid(), "input": "sha256:ab"},
        {"sent": 0, "line": 2, "key": "00ff00ff00ff00ff"},
        {"done": 0, "status": "created", "id": "cst_0000000000000001"},
        {"sent": 1, "line": 3, "key": "00ff00ff00ff00fe"},
        {"done": 1, "status": "rejected"},
    ]


def test_reopening_matches_rows_by_key_whatever_their_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    for line in (2, 3, 4, 5, 900):
        journal.sent(line, f"{line:016x}")
    assert not journal.resumed  # rows this run sent are not an earlier run's
    journal.done(0, "created", "cst_1")
    journal.done(1, "rejected")
    journal.done(2, "failed")
    journal.close()
    again = open_journal(path)
    assert again.resumed
    try:
        claims = [again.claim(f"{line:016x}") for line in (2, 3, 4, 5, 900, 1)]
        assert claims == [(0, CREATED), (1, REJECTED), (2, FAILED), (3, SENT), (4, SENT), None]
        assert again.claim(f"{2:016x}") is None  # each recorded row is handed out once
        assert again.sent(7, f"{7:016x}") == 5  # numbering goes on after the earlier rows
    finally:
        again.close()
    # Reopening appends; it never writes a second header.
    assert path.read_text().count('"journal"') == 1
    assert path.read_text().count('"run"') == 2


def test_identical_rows_take_the_created_record_first(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    journal.sent(2, "00000000000000aa")
    journal.sent(3, "00000000000000aa")
    journal.done(1, "created", "cst_1")
    journal.close()
    again = open_journal(path)
    try:
        assert again.claim("00000000000000aa") == (1, CREATED)
        assert again.claim("00000000000000aa") == (0, SENT)
        assert again.claim("00000000000000aa") is None
    finally:
        again.close()


def test_a_changed_input_is_noticed_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    first = open_journal(path)
    assert not first.input_changed
    first.sent(2, "00000000000000aa")
    first.close()
    same = open_journal(path)
    same.close()
    assert not same.input_changed
    other = open_journal(path, input_id="sha256:cd")
    other.close()
    assert other.input_changed
    last = open_journal(path, input_id="sha256:cd")
    last.close()
    assert not last.input_changed  # compared with the last run's input


def test_reading_hands_over_the_ids_of_customers_created_before(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    journal.sent(2, "00ff00ff00ff00ff")
    journal.done(0, "created", "cst_a")
    journal.sent(3, "00ff00ff00ff00fe")
    journal.done(1, "failed")
    journal.done(1, "created", "cst_b")  # a failed row a later run created
    journal.sent(5, "00ff00ff00ff00fd")  # sent, outcome unknown: no id known
    journal.close()
    created: list[str] = []
    Journal(path, **IDENTITY, on_created=created.append).close()  # type: ignore[arg-type]
    assert created == ["cst_a", "cst_b"]


async def test_catching_up_hands_over_the_ids_this_run_created_once_each(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    journal.sent(2, "00ff00ff00ff00ff")
    journal.done(0, "created", "cst_a")
    journal.close()
    earlier: list[str] = []
    journal = Journal(path, **IDENTITY, on_created=earlier.append)  # type: ignore[arg-type]
    try:
        caught: list[str] = []
        journal.catch_up(caught.append)
        assert (earlier, caught) == (["cst_a"], [])  # an earlier run's came as it was read
        journal.sent(3, "00ff00ff00ff00fe")
        journal.sent(4, "00ff00ff00ff00fd")
        journal.done(1, "created", 'cst_"b"\u00e9')  # queued in a loop: flushed first
        journal.done(2, "rejected")
        journal.catch_up(caught.append)
        assert caught == ['cst_"b"\u00e9']
        journal.done(2, "created", "cst_c")
        journal.catch_up(caught.append)
        journal.catch_up(caught.append)
        assert caught == ['cst_"b"\u00e9', "cst_c"]
        with path.open("ab") as damage:
            damaged_at = damage.tell()
            damage.write(b'{"done":2,"status":"created"}\n')
        with pytest.raises(JournalError, match=rf"at byte {damaged_at}: a 'done' record"):
            journal.catch_up(caught.append)
    finally:
        journal.close()


def test_catching_up_from_far_behind_reads_in_pieces_and_misses_no_id(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "j.jsonl")
    try:
        ids = [f"cst_{n:0300d}" for n in range(1000)]  # long: reads end inside `done` records
        for n, customer_id in enumerate(ids):  # 400 kB of records: several reads
            journal.done(journal.sent(n + 2, f"{n:016x}"), "created", customer_id)
        journal.done(0, "created", "cst_\u00e9")  # one escaped: that piece read record by record
        caught: list[str] = []
        journal.catch_up(caught.append)
        assert caught == [*ids, "cst_\u00e9"]
        more = [f"cst_{n:0300d}" for n in range(1000, 1400)]  # from where the last one ended
        for n, customer_id in enumerate(more, 1000):
            journal.done(journal.sent(n + 2, f"{n:016x}"), "created", customer_id)
        journal.catch_up(caught.append)
        assert caught == [*ids, "cst_\u00e9", *more]
    finally:
        journal.close()


def test_a_line_torn_by_a_crash_is_cut_off_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    with path.open("a") as file:
        file.write('{"sent":0,"line":2,"key":"00ff00ff00ff00ff"}\n{"done":0,"sta')
    journal = open_journal(path)
    journal.done(0, "rejected")
    journal.close()
    lines = path.read_text().splitlines()
    assert lines[2:] == [
        '{"sent":0,"line":2,"key":"00ff00ff00ff00ff"}',
        f'{{"run":{os.getpid()},"input":"sha256:ab"}}',
        '{"done":0,"status":"rejected"}',
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json\n", "line 1: not valid JSON"),
        ('{"hello": 1}\n', "line 1: not an ecomcharge bulk-import journal"),
        ("HEADER\n{bad\n", "line 2: not valid JSON (damaged journal?)"),
        ('HEADER\n{"sent": 0, "line": 2, "key": "ab"}\n', "line 2: malformed 'sent' record"),
        ('HEADER\n{"sent": 1, "line": 2, "key": KEY}\n', "line 2: malformed 'sent' record"),
        ('HEADER\n{"sent": 0, "line": -2, "key": KEY}\n', "line 2: malformed 'sent' record"),
        ('HEADER\n{"done": 0, "status": "created", "id": "c"}\n', "line 2: malformed 'done'"),
        ('HEADER\nSENT\n{"done": 0, "status": "maybe"}\n', "line 3: malformed 'done' record"),
        ("HEADER\nSENT\n[1]\n", "line 3: not a journal record"),
        ('HEADER\nSENT\n{"done": 0, "status": "created"}\n', "line 3: a 'done' record of a"),
        ('HEADER\n{"skipped": 2}\n', "line 2: unknown record"),
        ("HEADER\n" + "[" * 100_000 + "\n", "line 2: not valid JSON (damaged journal?)"),
    ],
)
def test_a_damaged_journal_names_the_bad_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    header = path.read_text().splitlines()[0]
    sent = '{"sent": 0, "line": 2, "key": "00000000000000aa"}'
    content = content.replace("HEADER", header).replace("SENT", sent)
    path.write_text(content.replace("KEY", '"00000000000000aa"'))
    with pytest.raises(JournalError, match=re.escape(problem)) as excinfo:
        open_journal(path)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"shop_id": "362"}, "written for shop '361', not '362'"),
        ({"base_url": "http://127.0.0.1:9"}, "written for API 'https://api.ecomcharge.com'"),
        ({"shard": (0, 2)}, r"written for shard None, not \[0, 2\]"),
    ],
)
def test_a_journal_of_another_import_is_refused(
    tmp_path: Path, change: dict[str, str | None], problem: str
) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    with pytest.raises(JournalError, match=problem):
        open_journal(path, **change)


def test_an_unsupported_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    header = json.loads(path.read_text().splitlines()[0])
    path.write_text(json.dumps({**header, "version": 1}) + "\n")
    with pytest.raises(JournalError, match="line 1: journal version 1 is not supported"):
        open_journal(path)


def test_two_imports_cannot_share_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    first = open_journal(path)
    try:
        with pytest.raises(JournalError, match=rf"in use by another import \(pid {os.getpid()}\)"):
            open_journal(path)
    finally:
        first.close()
    open_journal(path).close()  # free again once the first one closed


@pytest.mark.parametrize(
    "content",
    [
        b'{"theme": "dark", "size": 12}',  # a settings file as json.dump writes it: no newline
        b"garbage",
        b'{"journal":"ecomcharge-bulk-import","version":2,"shop_id":"362"\n',  # another shop's
        b'{"theme": "dark"}\n{"size": 12}',  # one complete line that is not a header
    ],
)
def test_a_file_that_is_not_our_journal_is_refused_and_left_untouched(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    with pytest.raises(JournalError, match=r"line 1: .*not an ecomcharge bulk-import journal"):
        open_journal(path)
    assert path.read_bytes() == content


@pytest.mark.parametrize("after", [b"", b"\n" + b'{"sent":0,"line":2,"key":"00ff00ff00ff00ff"}\n'])
def test_a_cut_header_is_refused_and_left_untouched(tmp_path: Path, after: bytes) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    cut = path.read_bytes()[:30] + after  # what a failed copy or a full disk leaves
    path.write_bytes(cut)
    with pytest.raises(JournalError, match="line 1: "):
        open_journal(path)
    assert path.read_bytes() == cut


def test_an_empty_file_starts_a_new_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"")  # `--journal "$(mktemp)"`
    open_journal(path).close()
    assert path.read_text().startswith('{"journal":"ecomcharge-bulk-import"')


def test_a_journal_that_cannot_be_opened_says_which(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "j.jsonl"
    with pytest.raises(JournalError, match=f"journal {re.escape(str(path))}: No such file"):
        open_journal(path)


def test_a_journal_without_a_descriptor_left_for_its_records_says_so(tmp_path: Path) -> None:
    # The journal's file opens on the last descriptor the limit allows; the unbuffered
    # one its records take is refused (EMFILE). In a child: the limit is per process.
    code = (
        "import os, resource, sys\n"
        "from ecomcharge_async.bulk._journal import Journal, JournalError\n"
        "free = os.open(os.devnull, os.O_RDONLY); os.close(free)\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (free + 1, hard))\n"
        "try:\n"
        "    Journal(sys.argv[1], shop_id='361', base_url='http://127.0.0.1:9', input_id=None)\n"
        "except JournalError as exc:\n"
        "    print(exc)\n"
    )
    path = tmp_path / "j.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == f"journal {path}: Too many open files"
    assert path.read_bytes() == b""  # nothing written: the file was closed again


def test_a_refused_import_names_the_holder_not_the_previous_run(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # its pid now belongs to no process: the previous run's
    open_journal(path).close()  # it records a run of this process: then the one that ended
    with path.open("ab") as file:
        file.write(b'{"run":%d,"input":null}\n' % gone.pid)
    with path.open("rb") as holder:  # the lock taken, its run not recorded yet
        assert lock(holder)
        refused: list[BaseException] = []

        def second_import() -> None:
            try:
                open_journal(path)
            except JournalError as exc:
                refused.append(exc)

        thread = threading.Thread(target=second_import)
        thread.start()
        wait_until_opened_twice(path)  # the second import is at the lock
        with path.open("ab") as file:  # the holder records its run
            file.write(b'{"run":%d,"input":null}\n' % os.getpid())
        thread.join(30)
    (error,) = refused
    assert f"in use by another import (pid {os.getpid()})" in str(error)


def wait_until_opened_twice(path: Path) -> None:
    """Poll (bounded) until this process holds `path` open twice."""
    fds = Path("/proc/self/fd")
    for _ in range(30_000):
        opened = 0
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                opened += os.readlink(fd) == str(path)
        if opened >= 2:
            return
    raise AssertionError(f"{path} was not opened a second time")


def test_a_full_disk_names_the_journal_and_it_still_closes(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    room = path.stat().st_size + 10  # part of the next record fits
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as a full disk
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
        with pytest.raises(OSError, match="File too large") as raised:
            journal.sent(2, "0123456789abcdef")
        journal.close()  # its unwritten record is dropped, not raised again
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert (raised.value.errno, raised.value.filename) == (errno.EFBIG, str(path))
    assert path.stat().st_size == room
    again = open_journal(path)  # the torn record is cut: the row counts as never sent
    try:
        assert not again.resumed
    finally:
        again.close()
