"""A journal record as written, and the checks a record read back must pass."""

from __future__ import annotations

import json
import re
from typing import Any


def record_line(record: dict[str, Any]) -> bytes:
    """One record as the journal writes it (the header is written this way too)."""
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


MAX_LINE = 2**31
"""No input has more lines: a larger line number is damage, not a row to remember."""
_KEY = re.compile(r"[0-9a-f]{16}")


def is_line(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_LINE


def is_key(value: Any) -> bool:
    return isinstance(value, str) and _KEY.fullmatch(value) is not None
