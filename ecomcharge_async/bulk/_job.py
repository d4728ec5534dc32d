"""One import, opened and run: the limiter made, the journal taken and read, the counts returned.

`import_customers` opens an `ImportJob`, runs it and closes it. The command line
holds one open to say whether the journal resumes and to show the concurrency
as it changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any

from .._core.client import Client
from ._bloom import BloomFilter
from ._counts import ImportReport, Tally
from ._importer import Importer
from ._journal import Journal
from ._pacing import Limiter
from ._row import RowOutcome
from ._settings import ImportSettings


class ImportJob:
    """An import ready to run: `settings` checked, its journal (a path, or None) open.

    `input_id` (e.g. a fingerprint of the input file) is recorded in the journal
    per run. Close it to release the journal.
    """

    def __init__(
        self,
        client: Client,
        settings: ImportSettings,
        *,
        journal: str | Path | None = None,
        input_id: str | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.limiter: Limiter = settings.limiter()
        # The ids of the customers this import (and the journal's earlier runs) took; with a
        # journal, this run's come from it before each reconciliation (`Ledger.created_ids`).
        self.created: BloomFilter = BloomFilter()
        self.journal: Journal | None = (
            Journal(
                journal,
                shop_id=client.shop_id,
                base_url=client.base_url,
                input_id=input_id,
                shard=settings.shard,
                on_created=self.created.add,  # customers earlier runs created stay theirs
            )
            if journal is not None
            else None
        )

    @property
    def resumed(self) -> bool:
        """Whether earlier runs recorded rows in the journal."""
        return self.journal is not None and self.journal.resumed

    @property
    def input_changed(self) -> bool:
        """Whether the journal's last run read another input (by `input_id`)."""
        return self.journal is not None and self.journal.input_changed

    @property
    def concurrency(self) -> int:
        """The requests the import lets be in flight now."""
        return self.limiter.limit

    async def run(
        self,
        rows: Iterable[Any] | AsyncIterable[Any],
        on_progress: Callable[[RowOutcome], object] | None = None,
        *,
        tally: Tally | None = None,
    ) -> ImportReport:
        """Import `rows`; return the counts.

        `tally` counts each row as it ends, to the counts `on_progress=tally.add`
        gives, but a row created is counted in place, with no `RowOutcome` and not
        through `tally.add` (an override of it sees only the other rows).
        """
        clock = self.settings.clock
        started = clock()
        importer = Importer(
            self.client,
            self.settings,
            limiter=self.limiter,
            journal=self.journal,
            created=self.created,
            on_progress=on_progress,
            tally=tally,
        )
        await importer.run(rows)
        if self.journal is not None:
            self.journal.flush()  # the last outcomes, or the error that kept one from the file
        counts = importer.counts.counts()
        return ImportReport(
            **counts.to_dict(), elapsed=clock() - started, concurrency=self.limiter.peak
        )

    def close(self) -> None:
        """Release the journal (its lock and file)."""
        if self.journal is not None:
            self.journal.close()
