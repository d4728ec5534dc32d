"""The bulk-import journal: an append-only JSON Lines file that makes an import resumable.

Line 1 identifies the import: `{"journal": "ecomcharge-bulk-import", "version": 1,
"shop_id": ..., "base_url": ..., "input": ..., "shard": [k, n] or null}`. Then, per row:

- `{"sent": LINE, "key": HASH}` before the row's first create request leaves;
- `{"done": LINE, "status": "created"|"rejected"|"failed", "id": ID}` when it ends
  (`id` required for "created": a resumed import must know which customers are taken).

`HASH` is 16 hex digits of a SHA-256 over the row's fields: the journal never
holds an email, a name, the secret key or an Authorization header. Every record
is flushed to the OS before the request it announces is sent, so `kill -9` loses
nothing that was sent; records are fsync'd at least once a second and on close,
so a power cut loses at most the last second.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MAGIC = "ecomcharge-bulk-import"
VERSION = 1
FSYNC_EVERY = 1.0

# What the journal knows about a line, one byte per line.
UNKNOWN, SENT, CREATED, REJECTED, FAILED = range(5)
_STATUS_CODES = {"created": CREATED, "rejected": REJECTED, "failed": FAILED}


#: Why a file that is not one of our journals (or whose header is damaged) is refused.
NOT_OURS = (
    "not an ecomcharge bulk-import journal, or its header is damaged; "
    "the file was left as it is (use a new path to start afresh)"
)


class JournalError(ValueError):
    """The journal cannot be used: damaged, foreign, or in use by another import."""


class JournalInUse(JournalError):
    """Another process holds the journal: the same import (or shard) is running there."""


class Journal:
    """An open journal: what earlier runs recorded, and the file to append to.

    `on_created` is called, while the journal is read, with the id of each
    customer earlier runs recorded as created (the journal keeps no ids itself).
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
        self.path = str(path)
        self._on_created = on_created
        self._header = {
            "journal": MAGIC,
            "version": VERSION,
            "shop_id": shop_id,
            "base_url": base_url,
            "input": input_id,
            "shard": list(shard) if shard is not None else None,
        }
        self._states = bytearray()
        self._sent_keys: dict[int, str] = {}
        self._clock = clock
        self._synced_at = clock()
        try:
            self._file: IO[bytes] = open(self.path, "a+b")  # noqa: SIM115
        except OSError as exc:
            raise JournalError(f"journal {self.path}: {exc.strerror or exc}") from None
        try:
            self._lock()
            self._load()
            if self._file.tell() == 0:
                self._append(self._header)
            self._file.flush()
            os.fsync(self._file.fileno())
        except BaseException:
            self._file.close()
            raise

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise JournalInUse(f"journal {self.path} is in use by another import") from None

    def _fail(self, number: int, problem: str) -> JournalError:
        return JournalError(f"journal {self.path} line {number}: {problem}")

    def _load(self) -> None:
        """Read what earlier runs wrote; drop a final line torn by a crash mid-write.

        A file whose first line is not our header is refused and left as it is,
        however it ends: only a cut-short copy of the very header this import
        would write (a crash while creating the journal, before anything could
        be sent under it) counts as a fresh start.
        """
        file = self._file
        file.seek(0)
        good_end = 0
        for number, raw in enumerate(file, 1):
            if not raw.endswith(b"\n"):
                if number == 1:
                    self._check_torn_header(raw)
                # A crash mid-write: the record never completed, so neither did
                # anything that depended on it. Cut it off before appending.
                file.truncate(good_end)
                break
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                if number == 1:
                    raise self._fail(1, f"not valid JSON: {NOT_OURS}") from None
                raise self._fail(number, "not valid JSON (damaged journal?)") from None
            if number == 1:
                self._check_header(record)
            else:
                self._apply(number, record)
            good_end += len(raw)
        file.seek(0, os.SEEK_END)

    def _check_torn_header(self, raw: bytes) -> None:
        """Accept an unterminated first line only if it is a prefix of our own header."""
        if not _record_line(self._header).startswith(raw):
            raise self._fail(1, f"no complete header line: {NOT_OURS}")

    def _check_header(self, record: Any) -> None:
        if not isinstance(record, dict) or record.get("journal") != MAGIC:
            raise self._fail(1, NOT_OURS)
        if record.get("version") != VERSION:
            raise self._fail(1, f"journal version {record.get('version')!r} is not supported")
        checked = (("shop_id", "shop"), ("base_url", "API"), ("input", "input"), ("shard", "shard"))
        for field, label in checked:
            if record.get(field) != self._header[field]:
                raise self._fail(
                    1,
                    f"written for {label} {record.get(field)!r}, not {self._header[field]!r}; "
                    "use a new journal for a different import",
                )

    def _apply(self, number: int, record: Any) -> None:
        if not isinstance(record, dict):
            raise self._fail(number, "not a journal record")
        if "sent" in record:
            line, key = record["sent"], record.get("key")
            if not _is_line(line) or not isinstance(key, str):
                raise self._fail(number, "malformed 'sent' record")
            if self.state(line) == UNKNOWN:
                self._set(line, SENT)
                self._sent_keys[line] = key
            return
        if "done" in record:
            line, status = record["done"], _STATUS_CODES.get(str(record.get("status")))
            if not _is_line(line) or status is None:
                raise self._fail(number, "malformed 'done' record")
            if status == CREATED:
                customer_id = record.get("id")
                if not isinstance(customer_id, str):
                    raise self._fail(number, "a 'done' record of a created row without its id")
                if self._on_created is not None:
                    self._on_created(customer_id)
            self._set(line, status)
            self._sent_keys.pop(line, None)
            return
        raise self._fail(number, "unknown record (neither 'sent' nor 'done')")

    def _set(self, line: int, state: int) -> None:
        if line >= len(self._states):
            self._states.extend(bytes(max(line + 1 - len(self._states), len(self._states))))
        self._states[line] = state

    # -- what the importer asks -------------------------------------------------

    def state(self, line: int) -> int:
        """UNKNOWN, SENT (sent, outcome unknown), CREATED, REJECTED or FAILED."""
        return self._states[line] if line < len(self._states) else UNKNOWN

    def sent_key(self, line: int) -> str | None:
        """The key hash recorded when `line` was sent without an outcome."""
        return self._sent_keys.get(line)

    # -- what the importer records ----------------------------------------------

    def _append(self, record: dict[str, Any]) -> None:
        self._file.write(_record_line(record))
        self._file.flush()
        now = self._clock()
        if now - self._synced_at >= FSYNC_EVERY:
            os.fsync(self._file.fileno())
            self._synced_at = now

    def sent(self, line: int, key: str) -> None:
        """Record that `line` is about to be sent (flushed before it is)."""
        self._append({"sent": line, "key": key})

    def done(self, line: int, status: str, customer_id: str | None = None) -> None:
        """Record the final outcome of `line`."""
        record: dict[str, Any] = {"done": line, "status": status}
        if customer_id is not None:
            record["id"] = customer_id
        self._append(record)

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _record_line(record: dict[str, Any]) -> bytes:
    """One record as the journal writes it (the header is written this way too)."""
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


MAX_LINE = 2**31
"""No input has more lines: a larger line number is damage, not a row to remember."""


def _is_line(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_LINE
