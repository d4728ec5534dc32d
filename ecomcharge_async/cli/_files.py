"""The import command's paths check and its tally of outcomes."""

from __future__ import annotations

import os
from collections import Counter

from ..bulk import ImportReport, RowOutcome


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


class Tally:
    """The outcomes seen so far, so a stopped import can still say what it did."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, outcome: RowOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.resumed:
            self.counts["resumed"] += 1
        elif outcome.customer is None:  # a line that could not become a customer: not sent
            self.counts["unsent"] += 1
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
