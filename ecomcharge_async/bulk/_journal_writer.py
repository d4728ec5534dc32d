"""How journal records reach the OS: before what they announce, several in one write.

`write_now` hands a record to the OS before it returns (a `sent` record,
before its request leaves), with every record queued before it. `write_soon`
queues a record that announces nothing (a `done`): the next `write_now` takes
it along (a finished row's worker sends its next row in the same turn), and
a loop timer writes what is still queued `delay` seconds later (0.01), one
timer for many records rather than a callback per loop turn. Records are
fsync'd at least once every `fsync_every` seconds and on close, so a power
cut loses at most that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_string
from typing import IO

from .._core.logs import logger

#: The longest a queued `done` record waits for a `sent` record to take it along.
DONE_DELAY = 0.01


class RecordWriter:
    """Appends records (bytes, one line each) to an open, unbuffered journal file.

    Unbuffered: each write of the file hands its bytes to the OS (`write(2)`).
    """

    def __init__(
        self,
        file: IO[bytes],
        path: str,
        *,
        clock: Callable[[], float],
        fsync_every: float,
        delay: float = DONE_DELAY,
    ) -> None:
        self._file = file
        self._path = path
        self._clock = clock
        self._fsync_every = fsync_every
        self._delay = delay
        self._synced_at = clock()
        self._pending: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._error: OSError | None = None  # a failed write: every later one fails with it

    def sent(self, row: int, line: int, key: str) -> None:
        """Write `{"sent":N,"line":LINE,"key":HASH}` at once, as `json.dumps` would."""
        self.write_now(b'{"sent":%d,"line":%d,"key":"%s"}\n' % (row, line, key.encode()))

    def done(self, row: int, status: str, customer_id: str | None = None) -> None:
        """Queue `{"done":N,"status":STATUS,"id":ID}` (no id when None), as `json.dumps` would."""
        if customer_id is None:
            text = f'{{"done":{row},"status":"{status}"}}\n'
        else:
            text = f'{{"done":{row},"status":"{status}","id":{_json_string(customer_id)}}}\n'
        self.write_soon(text.encode())

    def write_now(self, record: bytes) -> None:
        """Hand `record` (and any queued before it) to the OS before returning."""
        if self._error is not None:
            raise self._error
        pending = self._pending
        if pending:
            pending.append(record)
            record = b"".join(pending)
            pending.clear()
        try:
            written = self._file.write(record)
            while written < len(record):  # an unbuffered file may take part of it
                record = record[written:]
                written = self._file.write(record)
            now = self._clock()
            if now - self._synced_at >= self._fsync_every:
                os.fsync(self._file.fileno())
                self._synced_at = now
        except OSError as exc:  # a full disk: the stop names the journal
            self._error = OSError(exc.errno, exc.strerror, self._path)
            raise self._error from None

    def write_soon(self, record: bytes) -> None:
        """Queue `record` for the next `write_now`, or `delay` seconds (at once outside a loop)."""
        self._pending.append(record)
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        """Start the timer that writes the queued records (at once outside a loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(self._delay, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        with contextlib.suppress(OSError):  # kept: raised by the next write (a `sent` stops)
            self.flush()

    def flush(self) -> None:
        """Hand every queued record to the OS (one write), fsync'ing when one is due.

        It stops the timer too: one left armed on a loop that then closed would never
        fire, and no later record would start another.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._error is not None:
            raise self._error
        if self._pending:
            self.write_now(self._pending.pop())  # with the ones queued before it

    def close(self) -> None:
        """Write what is queued (unless a write failed), fsync, and close the file.

        A failure here is logged, not raised: the next run cuts the torn record it leaves.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
