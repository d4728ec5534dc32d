"""A JSON array arriving in chunks, cut into its elements and decoded as they complete.

Generic over the element: a codec hands in its C decoders (one element, a run
of elements) and its liberal read, so any resource's `iter()` streams the
same way. Memory stays flat whatever the array's length: only the element
being received is held, and an element is refused past `MAX_ITEM_BYTES`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from .._core.errors import DecodeError
from .explain import failure

T = TypeVar("T")

#: The liberal read of one decoded element: (data, index, status, body, headers) -> item.
ReadItem = Callable[[Any, int | None, int | None, bytes, Mapping[str, str] | None], T]

PREVIEW_BYTES = 800
"""How many leading bytes of a streamed body are kept on `DecodeError.body`."""

MAX_ITEM_BYTES = 8 * 1024 * 1024
"""An element of a streamed array larger than this is refused, so memory stays bounded."""

MAX_TRIES = 8
"""Decodes tried at the `}`s of one element before it is scanned to its end instead."""

_SPACE = b" \t\r\n"
_NOT_AN_OBJECT = {ord("["): "array", ord('"'): "string", ord("t"): "boolean", ord("f"): "boolean"}
_NOT_AN_OBJECT |= {ord("n"): "null"} | dict.fromkeys(b"-0123456789", "number")

_SPECIAL = re.compile(rb'[][{}"]')
"""What the one-pass scan of an element looks at: brackets and quotes."""

_any_json = msgspec.json.Decoder()


async def read_array(chunks: AsyncIterator[bytes], reader: ArrayReader[T]) -> AsyncGenerator[T]:
    """The elements of the array in `chunks`, each yielded once complete.

    A body cut off mid-array raises `DecodeError` after the complete
    elements, never a half one. `chunks` is closed however the loop ends.
    """
    try:
        async for chunk in chunks:
            if chunk:
                for item in reader.feed(chunk):
                    yield item
        reader.finish()
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class _Truncated(Exception):
    """The bytes so far end inside the element: wait for more."""


class ArrayReader(Generic[T]):
    """Cuts a JSON array arriving in chunks into its elements and decodes each.

    An element ends at a `}` where its bytes so far are complete JSON: a `}`
    inside a string or a nested object leaves them truncated, which msgspec
    says apart from malformed. Flat objects have one `}`, so one decode each.

    `state` says what may come next: "open" (the `[`), "first" (an element or
    the `]` of an empty array), "item" (an element, after a `,`), "next" (a `,`
    or the `]`), "done" (only whitespace).
    """

    def __init__(
        self,
        one: msgspec.json.Decoder[T],
        many: msgspec.json.Decoder[list[T]],
        read: ReadItem[T],
        plural: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.one, self.many, self.read, self.plural = one, many, read, plural
        self.status = status
        self.headers = headers
        self.buf = bytearray()
        self.head = b""  # the first bytes, kept on DecodeError.body
        self.pos = 0  # the next unread byte of buf
        self.probe = 0  # where to look for the current element's next `}`
        self.tries = 0  # decodes of the current element that found it truncated
        self.scan = -1  # where _scan_to_close resumes, at `depth` brackets deep
        self.depth = 0
        self.in_string = False
        self.state = "open"
        self.index = 0
        self.error: DecodeError | None = None

    def feed(self, chunk: bytes) -> list[T]:
        """The elements completed by `chunk`; an error is raised after they are yielded."""
        if self.error is not None:
            raise self.error
        if len(self.head) < PREVIEW_BYTES:
            self.head += chunk[: PREVIEW_BYTES - len(self.head)]
        self.buf += chunk
        done: list[T] = []
        try:
            self._scan(done)
        except DecodeError as exc:
            if not done:
                raise
            self.error = exc
        del self.buf[: self.pos]
        self.probe -= self.pos
        self.scan -= self.pos
        self.pos = 0
        return done

    def finish(self) -> None:
        """The body ended: it must have been one whole array."""
        if self.error is not None:
            raise self.error
        if self.state == "done":
            return
        if self.state == "open":
            raise self._fail("empty body")
        raise self._fail(f"body ended after {self.index} {self.plural}")

    def _scan(self, done: list[T]) -> None:
        buf = self.buf
        batch = True  # one try per chunk at every complete element at once
        while True:
            pos = self.pos
            while pos < len(buf) and buf[pos] in _SPACE:
                pos += 1
            self.pos = pos
            if pos == len(buf):
                return
            byte = buf[pos]
            state = self.state
            if state == "item" or state == "first":
                if byte == 0x5D and state == "first":  # ]
                    self.state, self.pos = "done", pos + 1
                elif byte == 0x7B:  # {
                    if batch:
                        batch = False
                        if self._batch(done):
                            continue
                    item = self._element()
                    if item is None:
                        return  # wait for more bytes
                    done.append(item)
                    self.index += 1
                    self.state = "next"
                elif byte in _NOT_AN_OBJECT:
                    what = _NOT_AN_OBJECT[byte]
                    raise self._fail(f"item {self.index}: expected a JSON object, got {what}")
                else:
                    raise self._invalid()
            elif state == "next":
                if byte == 0x2C:  # ,
                    self.state, self.pos = "item", pos + 1
                elif byte == 0x5D:
                    self.state, self.pos = "done", pos + 1
                else:
                    raise self._invalid()
            elif state == "open":
                if byte != 0x5B:  # [
                    raise self._fail("expected a JSON array")
                self.state, self.pos, self.probe = "first", pos + 1, pos + 1
            else:  # done: only whitespace may follow
                raise self._invalid()

    def _batch(self, done: list[T]) -> bool:
        """Decode every element from `pos` to the buffer's last `}` in one C call.

        Flat objects end at their only `}`, so that is usually all the complete
        elements of the chunk. If the span holds anything else (an odd record, a
        `}` inside the element still arriving), it fails and each element is
        read on its own. A span that decodes is whole elements: a `}` inside a
        string or a nested object cannot end valid JSON.
        """
        last = self.buf.rfind(b"}")
        if self.tries or last <= self.pos:
            return False
        try:
            items = self.many.decode(b"[" + self.buf[self.pos : last + 1] + b"]")
        except (msgspec.DecodeError, RecursionError):
            return False
        done.extend(items)
        self.index += len(items)
        self.pos = self.probe = last + 1
        self.state = "next"
        return True

    def _element(self) -> T | None:
        """The element whose object starts at `pos`, or None while it is incomplete."""
        buf, start = self.buf, self.pos
        end = buf.find(b"}", max(self.probe, start)) if self.tries < MAX_TRIES else -1
        while end != -1:
            try:
                return self._took(end + 1, self._decode(buf[start : end + 1]))
            except _Truncated:
                self.tries += 1
                self.probe = end + 1
                end = buf.find(b"}", end + 1) if self.tries < MAX_TRIES else -1
        if self.tries >= MAX_TRIES:
            # Many braces inside strings or nested objects: find the end in one pass
            # instead of a decode per brace, which a hostile body could make quadratic.
            close = self._scan_to_close()
            if close is not None:
                try:
                    return self._took(close, self._decode(buf[start:close]))
                except _Truncated:
                    raise self._invalid() from None
        else:
            self.probe = len(buf)
        if len(buf) - start > MAX_ITEM_BYTES:
            raise self._fail(f"item {self.index} is larger than {MAX_ITEM_BYTES} bytes")
        return None

    def _took(self, end: int, item: T) -> T:
        self.pos = self.probe = end
        self.tries, self.scan, self.depth, self.in_string = 0, -1, 0, False
        return item

    def _scan_to_close(self) -> int | None:
        """Where the element at `pos` ends, by its strings and brackets; None: not yet.

        Resumes where the last call stopped, so each byte is looked at once.
        """
        buf = self.buf
        if self.scan < self.pos:
            self.scan, self.depth, self.in_string = self.pos, 0, False
        at = self.scan
        while True:
            if self.in_string:
                quote = buf.find(b'"', at)
                if quote == -1:
                    self.scan = len(buf)
                    return None
                at = quote + 1
                before = quote - 1
                while buf[before] == 0x5C:  # a backslash; the opening quote stops the loop
                    before -= 1
                if (quote - before) % 2:  # an even run of backslashes: the string ends
                    self.in_string = False
                continue
            found = _SPECIAL.search(buf, at)
            if found is None:
                self.scan = len(buf)
                return None
            at = found.end()
            byte = buf[found.start()]
            if byte == 0x22:  # "
                self.in_string = True
                continue
            self.depth += 1 if byte in (0x7B, 0x5B) else -1  # { [ against } ]
            if self.depth == 0:
                return at

    def _decode(self, raw: bytearray) -> T:
        try:
            return self.one.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            pass  # complete but not the documented shape, or not complete yet
        except msgspec.DecodeError as exc:
            raise self._truncated_or_invalid(exc) from None
        try:
            data = _any_json.decode(raw)
        except msgspec.ValidationError:  # a number out of range
            raise self._fail(f"item {self.index}: a number out of range") from None
        except msgspec.DecodeError as exc:
            raise self._truncated_or_invalid(exc) from None
        except RecursionError:
            raise self._fail(f"item {self.index}: nested too deeply") from None
        return self.read(data, self.index, self.status, self.head, self.headers)

    def _truncated_or_invalid(self, exc: msgspec.DecodeError) -> Exception:
        return _Truncated() if "truncated" in str(exc) else self._invalid()

    def _invalid(self) -> DecodeError:
        return self._fail(f"invalid JSON after {self.index} {self.plural}")

    def _fail(self, message: str) -> DecodeError:
        return failure(message, self.status, self.head, self.headers)
