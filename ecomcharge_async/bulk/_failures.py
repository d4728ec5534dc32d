"""The failures file: each rejected or failed row of an import as one JSON line."""

from __future__ import annotations

import json
from typing import IO, Any

import attrs

from ._row import RowOutcome


class FailuresFile:
    """Rejected and failed rows as JSON Lines: line, status, message, errors, row.

    Opened for appending at once (so an unwritable path fails before anything is
    sent) but emptied only when the import has really started (`start`), and
    only if it is not resuming: a refused journal leaves the old file as it was.
    """

    def __init__(self, path: str, *, append: bool) -> None:
        self.path = path
        self._append = append
        self._started = False
        try:
            self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise OSError(f"--failures {path}: {exc.strerror or exc}") from None

    def start(self) -> None:
        if not self._started:
            self._started = True
            if not self._append:
                self._file.truncate(0)

    def write(self, outcome: RowOutcome) -> None:
        self.start()
        if outcome.status == "created" or outcome.resumed:
            return
        row = None
        if outcome.customer is not None:
            row = {k: v for k, v in attrs.asdict(outcome.customer).items() if v is not None}
        record: dict[str, Any] = {
            "line": outcome.line,
            "status": outcome.status,
            "message": outcome.message,
            "errors": outcome.errors,
            "row": row,
        }
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
