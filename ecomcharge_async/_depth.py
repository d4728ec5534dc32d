"""A nesting-depth guard for JSON read as a stream.

ijson keeps a path string per open level, so its memory grows with the square of
the depth: a body of 100,000 nested `[` took gigabytes. The documented answers
nest three levels deep; `DepthGuard` refuses far deeper ones before ijson sees them,
at C speed for ordinary bodies (strings are dropped by a regex, brackets counted).
"""

from __future__ import annotations

import re
from itertools import accumulate

#: Deeper than any answer the API documents, shallow enough to keep ijson small.
MAX_DEPTH = 512

_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_ESCAPES = re.compile(rb"\\.", re.DOTALL)
_STRINGS = re.compile(rb'(?:"[^"]*")+')  # runs of strings: one match per record
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class DepthGuard:
    """Follows the nesting depth of a JSON text fed in chunks."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        self.limit = limit
        self._depth = 0
        self._open_string = b""  # an unterminated string's marks, completed by later chunks
        self._escape = b""  # a backslash that ended the last chunk

    def too_deep(self, chunk: bytes) -> bool:
        """Feed `chunk`; True once the nesting has gone past `limit`."""
        if self._escape or b"\\" in chunk:  # escapes go first: `\"` ends no string
            chunk = _ESCAPES.sub(b"", self._escape + chunk)
            self._escape = b"\\" if chunk.endswith(b"\\") else b""  # completed next time
            chunk = chunk.removesuffix(self._escape)
        marks = _STRINGS.sub(b"", self._open_string + chunk.translate(None, _NOT_STRUCTURE))
        quote = marks.find(b'"')
        self._open_string = b"" if quote < 0 else marks[quote:]
        brackets = marks if quote < 0 else marks[:quote]
        opens = brackets.count(b"[") + brackets.count(b"{")
        if self._depth + opens > self.limit and self._deepest(brackets) > self.limit:
            return True
        self._depth += 2 * opens - len(brackets)
        return False

    def _deepest(self, brackets: bytes) -> int:
        """The deepest level reached in `brackets` (rare: only near the limit)."""
        return max(accumulate(map(_STEP.__getitem__, brackets), initial=self._depth))
