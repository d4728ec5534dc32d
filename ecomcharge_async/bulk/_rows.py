"""Streaming readers for bulk-import input: CSV with a header row, or JSON Lines.

Rows come out one at a time as `Row(line, customer)` (the importer's `Item`),
or `RowError(line, message)` for a line that cannot become a customer; a file
is not read ahead (a stream under `async for`: a few hundred rows at most), so
any size streams in flat memory. Problems that make the whole file unusable
(not UTF-8, an unknown or missing column in the CSV header, an empty file)
raise `InputError` before the first row is produced.
"""

from __future__ import annotations

import codecs
import csv
import operator
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from .._core.models import FIELDS
from ._errors import InputError
from ._jsonl import jsonl_row
from ._readahead import ThreadedRows
from ._row import Make, R, Row, RowError, csv_customer
from ._stream_text import StreamText

__all__ = [
    "FIELDS",
    "MAX_LINE_BYTES",
    "STDIN",
    "InputError",
    "Row",
    "RowError",
    "RowReader",
    "detect_format",
    "is_stream",
]

REQUIRED = ("email", "ip")
MAX_LINE_BYTES = 64 * 1024
_CHUNK = 1 << 20

Format = Literal["csv", "jsonl"]


STDIN = "-"


def is_stream(path: str | Path) -> bool:
    """Whether `path` can be read only once: `-` (stdin), a pipe, a FIFO, a device.

    Such input is not scanned ahead (no line count, no fingerprint): it is read
    once, as the rows are imported.
    """
    if str(path) == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _sniff(head: bytes) -> Format:
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    return "jsonl" if text.startswith(b"{") else "csv"


def detect_format(path: str | Path) -> Format:
    """`jsonl` for .jsonl/.ndjson, `csv` for .csv; otherwise sniff the first character."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as file:
            head = file.read(4096).lstrip()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return "jsonl" if head.startswith("{") else "csv"


class RowReader:
    """Iterate the rows of one input file; the CSV header is checked on opening.

    `path` may be `-` for stdin, or a pipe: see `is_stream`. Use as a context
    manager (or call `close()`); iterating twice is not supported. `async for`
    reads a stream in a daemon thread (see `__aiter__`). Opening a stream
    reads its first line (the CSV header) where it is called: in a coroutine,
    open it with `asyncio.to_thread(RowReader, path)` if the stream may be slow
    to start.
    """

    def __init__(self, path: str | Path, fmt: Format | None = None) -> None:
        self.path: str = "stdin" if str(path) == STDIN else str(path)
        self.streamed: bool = is_stream(path)
        if self.streamed:
            self._file = self._open_stream(str(path), fmt)
        else:
            self.format = fmt or detect_format(path)
            try:
                self._file = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        self._columns: tuple[str, ...] = ()
        self._csv: Any = None
        self._threaded: ThreadedRows[Any] | None = None
        self._stopped = False
        try:
            if self.format == "csv":
                self._open_csv()
        except BaseException:
            self._file.close()
            raise

    def _open_stream(self, path: str, fmt: Format | None) -> IO[str] | StreamText:
        """Open a stream once; sniff its format from the first bytes, read no further."""
        try:
            raw = open(0 if path == STDIN else path, "rb", closefd=path != STDIN)  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        try:
            head = raw.peek(4096)
        except OSError as exc:
            raw.close()
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        if not head:
            raw.close()
            raise InputError(f"{self.path} is empty: nothing to import")
        self.format = fmt or _sniff(head)
        return StreamText(raw, self.path)

    def __enter__(self) -> RowReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and close the file (a reader thread in a read closes it when done)."""
        self._stopped = True
        if self._threaded is not None:
            self._threaded.close(self._file.close)
        else:
            self._file.close()

    def stop(self) -> None:
        """End an `async for` over the rows: at once, even while it awaits a slow pipe.

        The rows not taken yet stay unread (and unimported: a journal resumes them).
        """
        self._stopped = True
        if self._threaded is not None:
            self._threaded.stop()

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV header's field names, in file order (empty for JSON Lines)."""
        return self._columns

    def __iter__(self) -> Iterator[Row | RowError]:
        return self._rows(Row)

    def _rows(self, make: Make[R]) -> Iterator[R | RowError]:
        rows = self._csv_rows(make) if self.format == "csv" else self._jsonl_rows(make)
        return self._checked(rows) if self.streamed else rows

    def __aiter__(self) -> AsyncIterator[Row | RowError]:
        return self._rows_as(Row)

    def _rows_as(self, make: Make[R]) -> AsyncIterator[R | RowError]:
        """The rows for `async for`, each customer's as `make(line, customer)` (the importer
        makes its own: no `Row` a row); a stream is read in a daemon thread, a few ahead.

        Reading a pipe waits for its writer, and waiting on the event loop would
        freeze every task (creates in flight, progress, signal handling). A
        regular file is read on the loop: each read returns at once, and a hop to
        a thread costs more than the read (several microseconds a row).
        """
        if not self.streamed:
            return self._unthreaded(make)
        self._threaded = ThreadedRows(self._rows(make), name=f"ecomcharge-rows {self.path}")
        if self._stopped:
            self._threaded.stop()
        return self._threaded

    async def _unthreaded(self, make: Make[R]) -> AsyncIterator[R | RowError]:
        rows = self._rows(make)
        while not self._stopped:  # checked before each read: `close` may have come between
            try:
                row = next(rows)
            except StopIteration:
                return
            yield row

    def _checked(self, rows: Iterator[R | RowError]) -> Iterator[R | RowError]:
        # A stream is not scanned ahead: text that is not UTF-8 shows up only here.
        try:
            yield from rows
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not UTF-8 text ({exc.reason})") from None

    # -- CSV ------------------------------------------------------------------

    def _open_csv(self) -> None:
        self._csv = csv.reader(self._file, strict=True)
        header: list[str] = []
        try:
            while not header:
                header = next(self._csv)
        except StopIteration:
            raise InputError(f"{self.path} has no header row: nothing to import") from None
        except csv.Error as exc:
            raise InputError(f"{self.path}: line {self._csv.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not UTF-8 text ({exc.reason})") from None
        at = f"{self.path}: line {self._csv.line_num}"
        names = [name.strip().lower() for name in header]
        for position, name in enumerate(names, 1):
            if not name:
                raise InputError(f"{at}: column {position} of the header has no name")
            if name not in FIELDS:
                raise InputError(f"{at}: {_unknown(header[position - 1], position)}")
            if names.count(name) > 1:
                raise InputError(f"{at}: column {name!r} appears twice in the header")
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise InputError(f"{at}: the header has no {' and no '.join(missing)} column")
        self._columns = tuple(names)

    def _csv_rows(self, make: Make[R]) -> Iterator[R | RowError]:
        reader, columns, width = self._csv, self._columns, len(self._columns)
        # Each field's cell, in the model's order (-1: no such column, the "" appended).
        pick = operator.itemgetter(*(columns.index(f) if f in columns else -1 for f in FIELDS))
        while True:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(line, f"malformed CSV: {exc}")
                continue
            if not values:
                continue  # a blank line
            if len(values) != width:
                yield RowError(line, f"has {len(values)} fields but the header has {width}")
                continue
            values.append("")  # what a column the header lacks reads
            yield make(line, csv_customer(pick(values)))

    # -- JSON Lines -----------------------------------------------------------

    def jsonl_rows(self) -> Iterator[Row | RowError]:
        return self._jsonl_rows(Row)

    def _jsonl_rows(self, make: Make[R]) -> Iterator[R | RowError]:
        file = self._file
        line = 0
        while True:
            text = file.readline(MAX_LINE_BYTES + 1)
            if not text:
                return
            line += 1
            if len(text) > MAX_LINE_BYTES and not text.endswith("\n"):
                while (rest := file.readline(_CHUNK)) and not rest.endswith("\n"):
                    pass
                yield RowError(line, f"line longer than {MAX_LINE_BYTES} characters")
                continue
            if not text.strip():
                continue
            yield jsonl_row(line, text, make)


_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ -]{0,39}")


def _unknown(column: str, position: int) -> str:
    """Why a header column is refused; its text only when it looks like a column name.

    A file without its header row has a customer's values there (an e-mail, a
    name): those stay out of the message, which ends up in logs.
    """
    fields = ", ".join(FIELDS)
    if _COLUMN_NAME.fullmatch(column.strip()):
        return f"unknown column {column!r}; the columns are {fields}"
    return (
        f"column {position} of the header is not a column name (is the header row "
        f"missing?); the columns are {fields}"
    )
