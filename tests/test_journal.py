"""The bulk-import journal: what it records, what it refuses, how it survives a crash."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ecomcharge_async.bulk._journal import (
    CREATED,
    FAILED,
    REJECTED,
    SENT,
    UNKNOWN,
    Journal,
    JournalError,
)

IDENTITY = {"shop_id": "361", "base_url": "https://api.ecomcharge.com", "input_id": "sha256:ab"}


def open_journal(path: Path, **changes: str | None) -> Journal:
    return Journal(path, **{**IDENTITY, **changes})  # type: ignore[arg-type]


def test_a_new_journal_starts_with_a_header_naming_the_import(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    journal.sent(2, "00ff00ff00ff00ff")
    journal.done(2, "created", "cst_0000000000000001")
    journal.done(3, "rejected")
    journal.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {
            "journal": "ecomcharge-bulk-import",
            "version": 1,
            "shop_id": "361",
            "base_url": "https://api.ecomcharge.com",
            "input": "sha256:ab",
            "shard": None,
        },
        {"sent": 2, "key": "00ff00ff00ff00ff"},
        {"done": 2, "status": "created", "id": "cst_0000000000000001"},
        {"done": 3, "status": "rejected"},
    ]


def test_reopening_reads_each_lines_last_state(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    for line in (2, 3, 4, 5, 900):
        journal.sent(line, f"{line:016x}")
    journal.done(2, "created", "cst_1")
    journal.done(3, "rejected")
    journal.done(4, "failed")
    journal.close()
    again = open_journal(path)
    try:
        states = [again.state(line) for line in (1, 2, 3, 4, 5, 900, 10**6)]
        assert states == [UNKNOWN, CREATED, REJECTED, FAILED, SENT, SENT, UNKNOWN]
        assert again.sent_key(5) == f"{5:016x}"
        assert again.sent_key(2) is None
    finally:
        again.close()
    # Reopening appends; it never writes a second header.
    assert path.read_text().count('"journal"') == 1


def test_reading_hands_over_the_ids_of_customers_created_before(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    journal.sent(2, "00ff00ff00ff00ff")
    journal.done(2, "created", "cst_a")
    journal.done(3, "failed")
    journal.done(3, "created", "cst_b")  # a failed row a later run created
    journal.done(4, "rejected")
    journal.sent(5, "00ff00ff00ff00fe")  # sent, outcome unknown: no id known
    journal.close()
    created: list[str] = []
    Journal(path, **IDENTITY, on_created=created.append).close()  # type: ignore[arg-type]
    assert created == ["cst_a", "cst_b"]


def test_a_line_torn_by_a_crash_is_cut_off_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    with path.open("a") as file:
        file.write('{"sent":2,"key":"00ff00ff00ff00ff"}\n{"done":2,"sta')
    journal = open_journal(path)
    journal.done(3, "rejected")
    journal.close()
    lines = path.read_text().splitlines()
    assert lines[1:] == ['{"sent":2,"key":"00ff00ff00ff00ff"}', '{"done":3,"status":"rejected"}']


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json\n", "line 1: not valid JSON"),
        ('{"hello": 1}\n', "line 1: not an ecomcharge bulk-import journal"),
        ("HEADER\n{bad\n", "line 2: not valid JSON (damaged journal?)"),
        ('HEADER\n{"sent": "2", "key": "ab"}\n', "line 2: malformed 'sent' record"),
        ('HEADER\n{"done": 2, "status": "maybe"}\n', "line 2: malformed 'done' record"),
        ('HEADER\n{"sent": 2, "key": "ab"}\n[1]\n', "line 3: not a journal record"),
        ('HEADER\n{"done": 2, "status": "created"}\n', "line 2: a 'done' record of a created"),
        ('HEADER\n{"skipped": 2}\n', "line 2: unknown record"),
        ('HEADER\n{"sent": 100000000000000, "key": "ab"}\n', "line 2: malformed 'sent' record"),
        ("HEADER\n" + "[" * 100_000 + "\n", "line 2: not valid JSON (damaged journal?)"),
    ],
)
def test_a_damaged_journal_names_the_bad_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    header = path.read_text().strip()
    path.write_text(content.replace("HEADER", header))
    with pytest.raises(JournalError, match=re.escape(problem)) as excinfo:
        open_journal(path)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"shop_id": "362"}, "written for shop '361', not '362'"),
        ({"base_url": "http://127.0.0.1:9"}, "written for API 'https://api.ecomcharge.com'"),
        ({"input_id": "sha256:cd"}, "written for input 'sha256:ab', not 'sha256:cd'"),
        ({"input_id": None}, "written for input 'sha256:ab', not None"),
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
    header = json.loads(path.read_text())
    path.write_text(json.dumps({**header, "version": 2}) + "\n")
    with pytest.raises(JournalError, match="line 1: journal version 2 is not supported"):
        open_journal(path)


def test_two_imports_cannot_share_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    first = open_journal(path)
    try:
        with pytest.raises(JournalError, match="in use by another import"):
            open_journal(path)
    finally:
        first.close()
    open_journal(path).close()  # free again once the first one closed


@pytest.mark.parametrize(
    "content",
    [
        b'{"theme": "dark", "size": 12}',  # a settings file as json.dump writes it: no newline
        b"garbage",
        b'{"journal":"ecomcharge-bulk-import","version":1,"shop_id":"362"',  # another shop's
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


def test_a_header_cut_short_before_anything_was_sent_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    open_journal(path).close()
    whole = path.read_bytes()
    path.write_bytes(whole[:30])  # a crash while the header was being written
    journal = open_journal(path)
    journal.close()
    assert path.read_bytes() == whole


def test_a_journal_that_cannot_be_opened_says_which(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "j.jsonl"
    with pytest.raises(JournalError, match=f"journal {re.escape(str(path))}: No such file"):
        open_journal(path)
