"""How journal records reach the OS: before what they announce, several in one write.

`write_now` hands a record to the OS before it returns (a `sent` record,
before its request leaves), with every record queued before it. `write_soon`
queues a record that announces nothing (a `done`) and schedules one write of
every record queued in this turn of the event loop, if no `write_now` took
them first. Records are fsync'd at least once every `fsync_every` seconds and
on close, so a power cut loses at most that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_string
from typing import IO

from .._core.logs import logger


class RecordWriter:
    """Appends records (bytes, one line each) to an open journal file."""

    def __init__(
        self, file: IO[bytes], path: str, *, clock: Callable[[], float], fsync_every: float
    ) -> None:
        self._file = file
        self._path = path
        self._clock = clock
        self._fsync_every = fsync_every
        self._synced_at = clock()
        self._pending: list[bytes] = []
        self._scheduled = False
        self._error: OSError | None = None  # a failed write: every later one fails with it

    def write_now(self, record: bytes) -> None:
        """Hand `record` (and any queued before it) to the OS before returning."""
        self._pending.append(record)
        self.flush()

    def write_soon(self, record: bytes) -> None:
        """Queue `record` for the end of this event-loop turn (at once outside a loop)."""
        self._pending.append(record)
        if not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._scheduled = True
            loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._scheduled = False
        with contextlib.suppress(OSError):  # kept: raised by the next write (a `sent` stops)
            self.flush()

    def flush(self) -> None:
        """Hand every queued record to the OS (one write), fsync'ing when one is due."""
        if self._error is not None:
            raise self._error
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            written = self._file.write(data)
            while written < len(data):  # an unbuffered file may take part of it
                data = data[written:]
                written = self._file.write(data)
            self._file.flush()
            now = self._clock()
            if now - self._synced_at >= self._fsync_every:
                os.fsync(self._file.fileno())
                self._synced_at = now
        except OSError as exc:  # a full disk: the stop names the journal
            self._error = OSError(exc.errno, exc.strerror, self._path)
            raise self._error from None

    def close(self) -> None:
        """Write what is queued (unless a write failed), fsync, and close the file.

        A failure here is logged, not raised: the next run cuts the torn record it leaves.
        """
        if self._file.closed:
            return
        try:
            if self._error is None:
                self.flush()
                os.fsync(self._file.fileno())
        except OSError as exc:
            logger.warning("journal %s: %s", self._path, exc.strerror or exc)
        finally:
            with contextlib.suppress(OSError):  # it retries a failed flush first
                self._file.close()


def sent_record(row: int, line: int, key: str) -> bytes:
    """`{"sent":N,"line":LINE,"key":HASH}` as `json.dumps` writes it, for less (HASH is hex)."""
    return b'{"sent":%d,"line":%d,"key":"%s"}\n' % (row, line, key.encode())


def done_record(row: int, status: str, customer_id: str | None) -> bytes:
    """`{"done":N,"status":STATUS,"id":ID}` (no id when None), as `json.dumps` writes it."""
    record = b'{"done":%d,"status":"%s"' % (row, status.encode())
    if customer_id is not None:
        record += b',"id":' + _json_string(customer_id).encode()  # as json.dumps writes it
    return record + b"}\n"
