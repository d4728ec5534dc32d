"""How many rows of an import ended each way: one type for the importer, the CLI and Celery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._row import RowOutcome

#: The counts' names, in the order summaries show them.
NAMES = ("total", "created", "rejected", "failed", "resumed", "reconciled")


@attrs.frozen(kw_only=True)
class Counts:
    """How many rows ended each way: `created + rejected + failed == total` once an import ends.

    `resumed` of those rows were finished by an earlier run (read from the
    journal); `reconciled` were found in the shop after an unclear failure.
    Counts add up (`a + b`): the shards' counts make the whole import's.
    """

    total: int = 0
    created: int = 0
    rejected: int = 0
    failed: int = 0
    resumed: int = 0
    reconciled: int = 0

    @property
    def done(self) -> int:
        """The rows that ended, whichever way."""
        return self.created + self.rejected + self.failed

    @property
    def ok(self) -> bool:
        """True when every row was created."""
        return self.rejected == 0 and self.failed == 0

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(**{name: getattr(self, name) + getattr(other, name) for name in NAMES})

    def to_dict(self) -> dict[str, int]:
        """The counts by name (`total`, `created`, ...), for JSON."""
        return {name: getattr(self, name) for name in NAMES}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Counts:
        """The counts `to_dict` gave (other keys are left out, missing ones are 0)."""
        return cls(**{name: int(data.get(name, 0)) for name in NAMES})


class Tally:
    """Counts that grow while an import runs; `counts()` takes a snapshot.

    The importer counts each row in `total` as it reads it and `count`s it as it
    ends. `add`, fed from `on_progress`, counts a row in `total` when it ends
    (a created row is counted in place instead when the importer holds the tally),
    so a tally of a stopped import says how many rows were done.
    """

    __slots__ = ("created", "failed", "reconciled", "rejected", "resumed", "total")

    def __init__(self) -> None:
        self.total: int = 0
        self.created: int = 0
        self.rejected: int = 0
        self.failed: int = 0
        self.resumed: int = 0
        self.reconciled: int = 0

    def count(self, status: str, *, resumed: bool = False, reconciled: bool = False) -> None:
        """A row ended with `status` ("created", "rejected" or "failed")."""
        if status == "created":
            self.created += 1
        elif status == "rejected":
            self.rejected += 1
        else:
            self.failed += 1
        if resumed:
            self.resumed += 1
        if reconciled:
            self.reconciled += 1

    def add(self, outcome: RowOutcome) -> None:
        """A row ended as `outcome` says (usable as `on_progress`)."""
        self.total += 1
        self.count(outcome.status, resumed=outcome.resumed, reconciled=outcome.reconciled)

    @property
    def done(self) -> int:
        return self.created + self.rejected + self.failed

    def counts(self) -> Counts:
        return Counts(**{name: getattr(self, name) for name in NAMES})


@attrs.frozen(kw_only=True)
class ImportReport(Counts):
    """What an import did: its `Counts`, how long it took, and its concurrency.

    `concurrency` is the most requests the import let be in flight at once
    (with `concurrency="auto"`, the highest limit it reached).
    """

    elapsed: float = 0.0
    concurrency: int = 0
