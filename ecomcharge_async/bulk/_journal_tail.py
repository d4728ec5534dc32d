"""The journal's end: a record torn by a crash, cut at open; this run's records, read back.

`created_since` hands the importer's created-ids filter the ids of the rows
this run created, read back from their `done` records before a reconciliation
consults the filter, instead of an add per created row (`Ledger.created_ids`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import IO


def cut_torn_tail(file: IO[bytes], header_end: int) -> int:
    """Drop a last record cut by a crash mid-write (it announced nothing sent); the new end."""
    end = file.seek(0, os.SEEK_END)
    if end == header_end:
        return end
    file.seek(end - 1)
    if file.read(1) == b"\n":
        return end
    good_end = header_end
    position = end
    while position > header_end:
        start = max(header_end, position - 65536)
        file.seek(start)
        found = file.read(position - start).rfind(b"\n")
        if found >= 0:
            good_end = start + found + 1
            break
        position = start
    file.truncate(good_end)
    return good_end


def created_since(
    file: IO[bytes],
    start: int,
    add: Callable[[str], object],
    fail: Callable[[int, str], Exception],
) -> int:
    """Pass `add` the id of each created row recorded from byte `start` on; where to go on.

    One pass, a line at a time (memory stays flat however far behind it is). Only
    a line holding `"created"` is parsed: the writer spells every created row's
    `done` record so. As when the journal is read, such a record without its id,
    or a line that is not JSON, is damage: `fail(offset, problem)` is raised. A last
    line without its newline is left for the next call (the caller flushed first:
    there is none unless a write failed).
    """
    file.seek(start)
    position = start
    for raw in file:
        if not raw.endswith(b"\n"):
            break
        if b'"created"' in raw:
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                raise fail(position, "not valid JSON (damaged journal?)") from None
            if isinstance(record, dict) and "done" in record and record.get("status") == "created":
                customer_id = record.get("id")
                if not isinstance(customer_id, str):
                    raise fail(position, "a 'done' record of a created row without its id")
                add(customer_id)
        position += len(raw)
    return position
