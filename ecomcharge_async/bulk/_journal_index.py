"""What a journal knows about its rows, matched by content key, in about 13 bytes a row.

While the journal is read, each recorded row gets its key (a 64-bit hash) and
state; `build` then sorts them by key (created rows first among equal keys), so
a resumed import finds a row's record by binary search whatever line the row
is on now, and hands each recorded row to one input row only.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

# What the journal knows about a recorded row, one byte per row.
UNKNOWN, SENT, CREATED, REJECTED, FAILED = range(5)
#: Set on a recorded row once an input row of this run has taken it.
CLAIMED = 0x80

# Among rows with one key: created first, then rejected, then those to settle.
_PRIORITY = {CREATED: 0, REJECTED: 1, SENT: 2, FAILED: 2}
_ROW_BITS = 32
_PRIORITY_BITS = 2


class KeyIndex:
    """Recorded rows by key: `add` and `settle` while reading, `build`, then `claim`."""

    def __init__(self) -> None:
        self._keys = array("Q")
        self.states = bytearray()
        self._sorted_keys = array("Q")
        self._sorted_rows = array("I")

    def add(self, key: int) -> None:
        self._keys.append(key)
        self.states.append(SENT)

    def settle(self, row: int, state: int) -> None:
        self.states[row] = state

    def build(self) -> None:
        """Sort the rows by key; the keys' insertion-order copy is dropped."""
        shift = _ROW_BITS + _PRIORITY_BITS
        packed = sorted(
            (key << shift) | (_PRIORITY[self.states[row]] << _ROW_BITS) | row
            for row, key in enumerate(self._keys)
        )
        self._keys = array("Q")
        self._sorted_keys = array("Q", (value >> shift for value in packed))
        self._sorted_rows = array("L", (value & (1 << _ROW_BITS) - 1 for value in packed))

    def claim(self, key: int) -> tuple[int, int] | None:
        """The first unclaimed row recorded with `key`, and its state; it is claimed now."""
        keys = self._sorted_keys
        at = bisect_left(keys, key)
        while at < len(keys) and keys[at] == key:
            row = self._sorted_rows[at]
            state = self.states[row]
            if not state & CLAIMED:
                self.states[row] = state | CLAIMED
                return row, state
            at += 1
        return None
