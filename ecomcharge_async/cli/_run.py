"""How an import run of the CLI ends early: a clean stop (no more rows), or an abort.

A clean stop (the first SIGINT or SIGTERM) stops taking rows and lets the rows
in flight finish for a grace period; an abort (a second signal, the grace period
over, the API unreachable) cancels the import at once. Either way the journal is
closed by the importer's own cleanup, so a re-run resumes with nothing lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..bulk import RowReader

T = TypeVar("T")


class ImportRun:
    """One import task, the reason it stopped early (if it did) and its exit status."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.reason: str | None = None
        self.message: str | None = None
        self.taking_rows = True
        self._task: asyncio.Task[Any] | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._reader: RowReader | None = None

    def rows(self, reader: RowReader) -> RowReader:
        """The reader, whose rows end when a stop is asked for (the importer sees the input end).

        At once, even while the next row is awaited from a slow pipe: `RowReader.stop`.
        """
        self._reader = reader
        if not self.taking_rows:
            reader.stop()
        return reader

    async def run(self, import_coro: Coroutine[Any, Any, T]) -> T | None:
        """The import's result, or None if it was aborted (see `code` and `reason`)."""
        task: asyncio.Task[T] = asyncio.ensure_future(import_coro)
        self._task = task
        try:
            await asyncio.wait([task])
        finally:
            if not task.done():  # we were cancelled ourselves: take the import down too
                task.cancel()
                await asyncio.wait([task])
            if self._grace is not None:
                self._grace.cancel()
        if task.cancelled():
            return None
        return task.result()

    def _note(self, code: int, reason: str, message: str) -> None:
        if self.code is None:
            self.code, self.reason, self.message = code, reason, message

    def _take_no_more_rows(self) -> None:
        self.taking_rows = False
        if self._reader is not None:
            self._reader.stop()

    def abort(self, code: int, reason: str, message: str) -> None:
        """Stop now: cancel the requests in flight (they stay journaled as sent)."""
        self._note(code, reason, message)
        self._take_no_more_rows()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def stop(self, code: int, reason: str, message: str, *, grace: float) -> None:
        """Take no more rows; abort if the rows in flight are not done within `grace` s.

        Asked again (a second signal), it aborts at once.
        """
        if not self.taking_rows:
            self.abort(code, reason, message)
            return
        self._note(code, reason, message)
        self._take_no_more_rows()
        loop = asyncio.get_running_loop()
        self._grace = loop.call_later(grace, self.abort, code, reason, message)
