"""The import command's files and counts: the failures file, the paths check, the tally."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import IO, Any

import attrs

from .bulk import ImportReport, RowOutcome


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


def same_path(a: str, b: str) -> bool:
    """Whether two paths name one file, existing or not (`-`, stdin, is no file)."""
    if "-" in (a, b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def clashing_paths(named: list[tuple[str, str | None]]) -> str | None:
    """A message when two of the (option, path) pairs name the same file, else None."""
    given = [(option, path) for option, path in named if path is not None]
    for i, (first_option, first) in enumerate(given):
        for option, path in given[i + 1 :]:
            if same_path(first, path):
                what = "the input file" if first_option == "PATH" else f"the {first_option} file"
                return f"{option} {path} is {what}; choose another path"
    return None


def resuming(journal: str | None) -> bool:
    return journal is not None and os.path.exists(journal) and os.path.getsize(journal) > 0


class Tally:
    """The outcomes seen so far, so a stopped import can still say what it did."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, outcome: RowOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.resumed:
            self.counts["resumed"] += 1
        if outcome.reconciled:
            self.counts["reconciled"] += 1

    @property
    def done(self) -> int:
        return self.counts["created"] + self.counts["rejected"] + self.counts["failed"]

    def report(self, elapsed: float) -> ImportReport:
        """What the finished rows add up to (`total` counts rows done, not rows read)."""
        counts = self.counts
        return ImportReport(
            total=self.done,
            created=counts["created"],
            rejected=counts["rejected"],
            failed=counts["failed"],
            resumed=counts["resumed"],
            reconciled=counts["reconciled"],
            elapsed=elapsed,
        )
