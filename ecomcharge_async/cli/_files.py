"""The import command's paths check and its tally of outcomes."""

from __future__ import annotations

import os

from ..bulk import ImportReport, RowOutcome, Tally


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


class RunTally(Tally):
    """The outcomes seen so far, so a stopped import can still say what it did.

    `unsent` counts the lines that could not become a customer (not sent), so a
    re-run can tell that an earlier run finished every row it could send.
    """

    __slots__ = ("unsent",)

    def __init__(self) -> None:
        super().__init__()
        self.unsent = 0

    def add(self, outcome: RowOutcome) -> None:
        super().add(outcome)
        if not outcome.resumed and outcome.customer is None:
            self.unsent += 1

    def report(self, elapsed: float) -> ImportReport:
        """What the finished rows add up to (`total` counts rows done, not rows read)."""
        return ImportReport(**self.counts().to_dict(), elapsed=elapsed)
