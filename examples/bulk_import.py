"""Import customers from a CSV file with the bulk API, from your own Python code.

    ECOMCHARGE_SHOP_ID=... ECOMCHARGE_SECRET_KEY=... python examples/bulk_import.py customers.csv

The `ecomcharge import` command does the same with a progress bar; this is the
shape to copy when the import is a step of your own job. Rejected and failed
rows are written to `failures.jsonl` with their line numbers; `--fake` imports
into an in-memory fake shop instead of the API.
"""

from __future__ import annotations

import asyncio
import json
import sys

import ecomcharge_async as ec
from ecomcharge_async.bulk import ImportReport, RowOutcome, RowReader, import_customers
from ecomcharge_async.testing import FakeEcomCharge


async def run(
    path: str, client: ec.Client, *, journal: str | None, failures_path: str = "failures.jsonl"
) -> ImportReport:
    """Import every row of `path`; write the rows that did not make it to `failures_path`.

    With a `journal`, running again after a crash finishes the job without duplicates.
    """
    # A local file written a line at a time, as the CLI's failures file is.
    failures = open(failures_path, "w", encoding="utf-8")  # noqa: ASYNC230, SIM115
    with RowReader(path) as rows, failures:

        def on_progress(outcome: RowOutcome) -> None:
            if outcome.status != "created":
                record = {"line": outcome.line, "status": outcome.status,
                          "message": outcome.message, "errors": outcome.errors}  # fmt: skip
                failures.write(json.dumps(record) + "\n")

        return await import_customers(
            client,
            rows,
            concurrency=32,
            journal=journal,
            on_progress=on_progress,
        )


async def main(argv: list[str]) -> int:
    path, fake = argv[0], "--fake" in argv
    if fake:
        shop = FakeEcomCharge(shop_id="361", secret_key="s")
        client = ec.Client("361", "s", transport=shop.transport(), retry=None)
    else:
        # retry=None: the importer retries itself and pauses the whole import on overload.
        client = ec.Client(retry=None)
    async with client:
        # The fake shop starts empty on every run, so only a real import keeps a journal.
        report = await run(path, client, journal=None if fake else f"{path}.journal")
    print(f"{report.total} rows: {report.created} created, {report.rejected} rejected, "
          f"{report.failed} failed")  # fmt: skip
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
