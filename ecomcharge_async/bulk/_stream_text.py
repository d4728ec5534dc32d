"""A stream (stdin, a pipe) read as UTF-8 text one line at a time, so a bad byte names its line.

A stream is not scanned ahead as a file is: its first bad byte shows up while
rows are being imported. Decoding line by line (not in 8 KiB blocks, as
`io.TextIOWrapper` does) tells the line it is on.
"""

from __future__ import annotations

import codecs
from typing import IO

from ._errors import InputError


class StreamText:
    """`readline` and iteration over a binary stream's lines, decoded as UTF-8 (BOM dropped)."""

    def __init__(self, raw: IO[bytes], name: str) -> None:
        self._raw = raw
        self._name = name
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._newlines = 0  # complete lines read so far

    def readline(self, limit: int = -1) -> str:
        """The next line (or its first `limit` bytes' worth); "" at the end."""
        data = self._raw.readline(limit)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self._name}: line {self._newlines + 1}: not UTF-8 text ({exc.reason})"
            ) from None
        if data.endswith(b"\n"):
            self._newlines += 1
        return text

    def __iter__(self) -> StreamText:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self._raw.close()
