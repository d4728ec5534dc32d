"""The bulk-import journal: an append-only JSON Lines file that makes an import resumable.

Line 1 identifies the import: `{"journal": "ecomcharge-bulk-import", "version": 2,
"shop_id": ..., "base_url": ..., "shard": [k, n] or null}`; it is written and
fsync'd before anything else, so a cut header is damage, never a run that sent
rows. Then:

- `{"run": PID, "input": FINGERPRINT}` each time an import opens the journal;
- `{"sent": N, "line": LINE, "key": HASH}` before a row's first create request
  leaves (`N` numbers the rows this journal has seen: 0, 1, 2, ...);
- `{"done": N, "status": "created"|"rejected"|"failed", "id": ID}` when row N
  ends (`id` required for "created": a resumed import must know which customers
  are taken).

Rows are matched by `HASH` (16 hex digits of a SHA-256 over the row's fields),
not by line: an input edited between runs (a rejected row fixed, a line added)
resumes, and a row created by an earlier run is never sent again. The journal
never holds an email, a name, the secret key or an Authorization header. Every
record reaches the OS before the request it announces is sent, so `kill -9`
loses nothing that was sent (a `sent` record is written at once, with the
`done` records queued before it; a `done` record otherwise goes out at most
10 ms later: `_journal_writer`); records are fsync'd at least once a second
and on close, so a power cut loses at most the last second.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from .._core.logs import logger
from ._journal_index import CREATED, FAILED, REJECTED, SENT, UNKNOWN, KeyIndex
from ._journal_lock import holder_pid, lock
from ._journal_records import is_key, is_line, record_line
from ._journal_tail import created_since, cut_torn_tail
from ._journal_writer import RecordWriter

__all__ = ["CREATED", "FAILED", "REJECTED", "SENT", "UNKNOWN", "Journal", "JournalError"]

MAGIC = "ecomcharge-bulk-import"
VERSION = 2
FSYNC_EVERY = 1.0

_STATUS_CODES = {"created": CREATED, "rejected": REJECTED, "failed": FAILED}

#: Why a file that is not one of our journals (or whose header is damaged) is refused.
NOT_OURS = (
    "not an ecomcharge bulk-import journal, or its header is damaged; "
    "the file was left as it is (use a new path to start afresh)"
)
#: Why a first line without its newline is refused: the header is fsync'd before any row.
CUT_HEADER = (
    "the header line is cut short (a failed copy or a full disk?); the file was left "
    "as it is: restore the journal, or delete it to start over (rows created under it "
    "would then be sent again)"
)


class _Done(Protocol):
    def __call__(self, row: int, status: str, customer_id: str | None = None) -> None: ...


class JournalError(ValueError):
    """The journal cannot be used: damaged, foreign, or in use by another import."""


class JournalInUse(JournalError):
    """Another process holds the journal: the same import (or shard) is running there."""


class Journal:
    """An open journal: what earlier runs recorded, and the file to append to.

    `on_created` is called, while the journal is read, with the id of each
    customer earlier runs recorded as created. `input_changed` tells whether the
    last run that opened the journal read another input (by fingerprint).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        shop_id: str,
        base_url: str,
        input_id: str | None,
        shard: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_created: Callable[[str], object] | None = None,
    ) -> None:
        self.path: str = str(path)
        self.input_changed: bool = False
        self._on_created = on_created
        self._header = {
            "journal": MAGIC,
            "version": VERSION,
            "shop_id": shop_id,
            "base_url": base_url,
            "shard": list(shard) if shard is not None else None,
        }
        self._index = KeyIndex()
        self._rows = 0  # rows recorded as sent, in this journal's numbering
        self._earlier = 0  # of those, recorded by earlier runs (set once read)
        try:
            self._file: IO[bytes] = open(self.path, "a+b")  # noqa: SIM115
        except OSError as exc:
            raise JournalError(f"journal {self.path}: {exc.strerror or exc}") from None
        try:
            # Records go out through an unbuffered descriptor of the same open file:
            # one write(2) each, where a flush of the buffered one adds an lseek(2).
            duplicate = os.dup(self._file.fileno())
        except OSError as exc:  # out of descriptors
            self._file.close()
            raise JournalError(f"journal {self.path}: {exc.strerror or exc}") from None
        records = open(duplicate, "ab", buffering=0)  # noqa: SIM115 - of a descriptor we hold
        self._writer = RecordWriter(records, self.path, clock=clock, fsync_every=FSYNC_EVERY)
        # `done(row, status, customer_id=None)` records row `row`'s outcome (as numbered by
        # `sent` or `claim`) within 10 ms: with the next `sent` record, or by a timer. A
        # `done` lost in a crash only makes a resumed import check the shop for the row.
        # The writer's own method: a call less a row.
        self.done: _Done = self._writer.done
        try:
            if not lock(self._file):
                pid = holder_pid(self.path)
                held_by = f" (pid {pid})" if pid is not None else ""
                raise JournalInUse(f"journal {self.path} is in use by another import{held_by}")
            self._open(input_id)
        except BaseException:
            records.close()
            self._file.close()
            raise

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    @property
    def resumed(self) -> bool:
        """Whether earlier runs recorded rows here."""
        return self._earlier > 0

    def _fail(self, number: int, problem: str) -> JournalError:
        return JournalError(f"journal {self.path} line {number}: {problem}")

    def _open(self, input_id: str | None) -> None:
        """Check the header, cut a record torn by a crash, record this run, read the rest.

        The run record goes in first (so a second import asking finds our pid at
        once); the records before it are then read.
        """
        file = self._file
        file.seek(0)
        first = file.readline()
        if not first:
            first = record_line(self._header)
            file.write(first)
            file.flush()  # ahead of the records, which take the other descriptor
            end = file.tell()
        else:
            if not first.endswith(b"\n"):
                ours = record_line({"journal": MAGIC})[:-2]
                looks_ours = first.startswith(ours) or ours.startswith(first)
                raise self._fail(1, CUT_HEADER if looks_ours else f"no header line: {NOT_OURS}")
            self._check_header(first)
            end = cut_torn_tail(file, len(first))
        file.seek(0, os.SEEK_END)
        self._writer.write_now(record_line({"run": os.getpid(), "input": input_id}))
        os.fsync(file.fileno())
        previous_input = self._read(len(first), end)
        self.input_changed = (
            self._rows > 0 and input_id is not None and previous_input not in (None, input_id)
        )
        if self.input_changed:
            logger.warning(
                "journal %s: the input changed since the journal's last run; resuming by "
                "row content",
                self.path,
            )
        self._tail = file.seek(0, os.SEEK_END)  # where `catch_up` reads from
        self._index.build()
        self._earlier = self._rows

    def _check_header(self, raw: bytes) -> None:
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            raise self._fail(1, f"not valid JSON: {NOT_OURS}") from None
        if not isinstance(record, dict) or record.get("journal") != MAGIC:
            raise self._fail(1, NOT_OURS)
        if record.get("version") != VERSION:
            raise self._fail(1, f"journal version {record.get('version')!r} is not supported")
        for field, label in (("shop_id", "shop"), ("base_url", "API"), ("shard", "shard")):
            if record.get(field) != self._header[field]:
                raise self._fail(
                    1,
                    f"written for {label} {record.get(field)!r}, not {self._header[field]!r}; "
                    "use a new journal for a different import",
                )

    def _read(self, start: int, end: int) -> str | None:
        """Read the records between `start` and `end`; return the last run's input."""
        file = self._file
        file.seek(start)
        position, last_input = start, None
        for number, raw in enumerate(file, 2):
            if position >= end:
                break
            position += len(raw)
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                raise self._fail(number, "not valid JSON (damaged journal?)") from None
            if not isinstance(record, dict):
                raise self._fail(number, "not a journal record")
            if "run" in record:
                last_input = record.get("input")
            else:
                self._apply(number, record)
        return last_input

    def _apply(self, number: int, record: dict[str, Any]) -> None:
        if "sent" in record:
            row, key = record["sent"], record.get("key")
            if row != self._rows or not is_line(record.get("line")) or not is_key(key):
                raise self._fail(number, "malformed 'sent' record")
            self._index.add(int(str(key), 16))
            self._rows += 1
            return
        if "done" in record:
            row, status = record["done"], _STATUS_CODES.get(str(record.get("status")))
            if not is_line(row) or row >= self._rows or status is None:
                raise self._fail(number, "malformed 'done' record")
            if status == CREATED:
                customer_id = record.get("id")
                if not isinstance(customer_id, str):
                    raise self._fail(number, "a 'done' record of a created row without its id")
                if self._on_created is not None:
                    self._on_created(customer_id)
            self._index.settle(row, status)
            return
        raise self._fail(number, "unknown record (neither 'sent' nor 'done')")

    # -- what the importer asks -------------------------------------------------

    def claim(self, key: str) -> tuple[int, int] | None:
        """The row an earlier run recorded with this key, and its state; None if none.

        Each recorded row is handed out once: two identical input rows take two
        recorded rows. Created rows come first, then rejected, then the rest.
        """
        return self._index.claim(int(key, 16)) if self._earlier else None

    # -- what the importer records ----------------------------------------------

    def sent(self, line: int, key: str) -> int:
        """Record that input `line` is about to be sent, at once; its number.

        At once rather than with the rest of the loop turn's records: waiting
        for the turn's end would part each create's garbage from the next
        one's making by a turn, and the collector runs nine times as often.
        """
        row = self._rows
        self._rows = row + 1
        self._writer.sent(row, line, key)
        return row

    def flush(self) -> None:
        """Hand every record made so far to the OS; raise what kept one from it."""
        self._writer.flush()

    def catch_up(self, add: Callable[[str], object]) -> None:
        """Flush, then pass `add` the id of each row this run recorded created since the
        last call (`on_created` had those of earlier runs): read back from the file."""
        self._writer.flush()
        self._tail = created_since(self._file, self._tail, add, self._fail_at)

    def _fail_at(self, offset: int, problem: str) -> JournalError:
        return JournalError(f"journal {self.path} at byte {offset}: {problem}")

    def close(self) -> None:
        """Sync and close; a write that failed already (a full disk) stopped the import."""
        try:
            self._writer.close()
        finally:
            self._file.close()
