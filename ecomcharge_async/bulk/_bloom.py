"""A set of strings in a few bytes each: a scalable Bloom filter with no false negatives.

Bulk import remembers the id of every customer it created itself, so that
reconciliation never credits a row with a customer another row created. An
exact set would cost ~100 bytes per id (10^7 ids: ~1 GB); this costs ~2 bytes.
It may answer "maybe seen" for an id it never saw (a false positive), never
"not seen" for one it did.

It grows in slices (Almeida et al., "Scalable Bloom Filters", 2007): the first
holds `first` strings, each next one twice as many up to `largest`, then more of
`largest`. A slice of c strings is sized to answer wrongly with probability
c * `error_per_key`, so the chance that a string never added is reported seen is
at most the sum over slices, `error_per_key * capacity` (`error_bound`): with
the defaults 0.1% per 2^20 strings the filter holds, about 16 bits per string
in the large slices.

A slice sets at most `MAX_HASHES` bits per string, sized for that many: the
optimal count (10 to 16 here) would save a tenth of the bits of a large slice
but costs a Python step per bit on every row an import creates. The bit
positions come from the string's own `hash()` (SipHash, randomised per
process: a filter lives in one process), not from a digest made per string.
"""

from __future__ import annotations

import math

FIRST = 1 << 14
LARGEST = 1 << 20
ERROR_PER_KEY = 1e-3 / (1 << 20)
MAX_HASHES = 6
_MASK = (1 << 64) - 1


class _Slice:
    """One fixed-size Bloom filter: `hashes` bits per string, sized for its error rate."""

    __slots__ = ("bits", "capacity", "count", "error", "hashes", "size")

    def __init__(self, capacity: int, error: float) -> None:
        self.capacity = capacity
        self.error = error
        self.count = 0
        self.hashes = min(MAX_HASHES, max(1, round(math.log2(1 / error))))
        # The bits per string at which `hashes` positions err with probability `error`
        # once `capacity` strings are in: -k / ln(1 - error^(1/k)).
        per_key = -self.hashes / math.log1p(-(error ** (1 / self.hashes)))
        self.size = math.ceil(capacity * per_key)
        self.bits = bytearray((self.size + 7) // 8)

    def __contains__(self, hashes: tuple[int, int]) -> bool:
        h1, h2 = hashes
        bits, size = self.bits, self.size
        bit, step = h1 % size, h2 % size
        for _ in range(self.hashes):
            if not bits[bit >> 3] & (1 << (bit & 7)):
                return False
            bit += step
            if bit >= size:
                bit -= size
        return True


def _hashes(value: str) -> tuple[int, int]:
    """Two hashes (Kirsch-Mitzenmacher: k positions from two): the string's own, and
    that of the 1-tuple holding it (xxHash's mixing of the first). 64 bits on 64-bit
    builds; a 32-bit build's collisions add about 2.4e-4 to the bound at 2^20 ids."""
    return hash(value) & _MASK, (hash((value,)) & _MASK) | 1


class BloomFilter:
    """Strings added are always found; others are found with probability <= `error_bound`."""

    def __init__(
        self, *, first: int = FIRST, largest: int = LARGEST, error_per_key: float = ERROR_PER_KEY
    ) -> None:
        if not 1 <= first <= largest:
            raise ValueError(f"need 1 <= first <= largest, got first={first}, largest={largest}")
        if not 0 < error_per_key * first < 1:
            raise ValueError(f"error_per_key * first must be in (0, 1), got {error_per_key}")
        self._largest = largest
        self._error_per_key = error_per_key
        self._slices = [_Slice(first, error_per_key * first)]

    def __repr__(self) -> str:
        return f"BloomFilter({len(self)} added, {self.nbytes} bytes)"

    def add(self, value: str) -> None:
        newest = self._slices[-1]
        if newest.count >= newest.capacity:
            capacity = min(2 * newest.capacity, self._largest)
            newest = _Slice(capacity, self._error_per_key * capacity)
            self._slices.append(newest)
        # Set the newest slice's bits here, as `_Slice.__contains__` reads them.
        # Bit i is (h1 + i * h2) % size, stepped in small ints instead of 64-bit products.
        bits, size = newest.bits, newest.size
        h1, h2 = _hashes(value)
        bit, step = h1 % size, h2 % size
        for _ in range(newest.hashes):
            bits[bit >> 3] |= 1 << (bit & 7)
            bit += step
            if bit >= size:
                bit -= size
        newest.count += 1

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        hashes = _hashes(value)
        return any(hashes in piece for piece in self._slices)

    def __len__(self) -> int:
        return sum(piece.count for piece in self._slices)

    @property
    def nbytes(self) -> int:
        """Bytes of bits held (the whole footprint, bar ~200 bytes per slice)."""
        return sum(len(piece.bits) for piece in self._slices)

    @property
    def error_bound(self) -> float:
        """The most likely a string never added is reported added, at the current size."""
        return sum(piece.error for piece in self._slices)
