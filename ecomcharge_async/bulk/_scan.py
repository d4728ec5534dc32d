"""One pass over an input file before it is imported: UTF-8 checked, lines counted, hashed."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import attrs

from ._errors import InputError

_CHUNK = 1 << 20


@attrs.frozen(kw_only=True)
class InputScan:
    """What one pass over the file found: size, approximate row count, fingerprint."""

    size: int
    lines: int
    fingerprint: str


def scan_input(path: str | Path) -> InputScan:
    """Check that `path` is non-empty UTF-8; count its lines and hash its content.

    One streaming pass. The fingerprint (`sha256:...`) identifies the input in a
    journal; the line count gives the progress bar its total.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = newlines = 0
    last = b""
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = newlines + chunk.count(b"\n", 0, exc.start) + 1
                    raise InputError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from exc
                digest.update(chunk)
                size += len(chunk)
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: ends in the middle of a UTF-8 character") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise InputError(f"{path} is empty: nothing to import")
    lines = newlines + (1 if last != b"\n" else 0)
    return InputScan(size=size, lines=lines, fingerprint=f"sha256:{digest.hexdigest()}")
