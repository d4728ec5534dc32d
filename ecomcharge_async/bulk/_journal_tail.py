"""The journal's end: a record torn by a crash, cut at open; this run's records, read back.

`created_since` hands the importer's created-ids filter the ids of the rows
this run created, read back from their `done` records before a reconciliation
consults the filter, instead of an add per created row (`Ledger.created_ids`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import IO

#: A created row's `done` record as the writer spells it, its id printable ASCII with
#: nothing escaped: the id is then the bytes between its quotes (no `json.loads`).
_PLAIN_CREATED = re.compile(
    rb'^\{"done":\d+,"status":"created","id":"([ !#-\[\]-~]*)"\}$', re.MULTILINE
)
_CHUNK = 1 << 16


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

    One pass, 64 KiB at a time (memory stays flat however far behind it is). As
    when the journal is read, a created row's record without its id, or such a
    line that is not JSON, is damage: `fail(offset, problem)` is raised. A last
    line without its newline is left for the next call (the caller flushed
    first: there is none unless a write failed).
    """
    file.seek(start)
    position, rest = start, b""
    while more := file.read(_CHUNK):
        chunk = rest + more
        whole = chunk.rfind(b"\n") + 1
        chunk, rest = chunk[:whole], chunk[whole:]
        ids = _PLAIN_CREATED.findall(chunk)
        if len(ids) == chunk.count(b'"created"'):  # each created record, plainly spelt
            for customer_id in ids:
                add(customer_id.decode())
        else:
            _created_ids(chunk, position, add, fail)
        position += whole
    return position


def _created_ids(
    chunk: bytes, position: int, add: Callable[[str], object], fail: Callable[[int, str], Exception]
) -> None:
    """`created_since` for whole lines of which some hold `"created"` otherwise spelt."""
    for raw in chunk.splitlines(keepends=True):
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
