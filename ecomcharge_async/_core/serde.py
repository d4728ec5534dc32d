"""The one cattrs converter, and the JSON encode/decode of request and response bodies.

Strict in what we send, liberal in what we read. A customer decodes as long as
it has an `id`: missing or null fields are None, a number where a string
belongs is read as its text, unknown fields are ignored, since the API (and
customers made through other APIs) will not always match the documented
example. Only what cannot be read at all (no `id`, an object, array or boolean
in a string field, an item that is not an object) raises `DecodeError`, whose
message says where and what, never the body's text: bodies hold personal data.

Two paths give the same objects. msgspec decodes the documented shape
straight into the attrs classes in C (see docs/guides/performance.md); a body
it refuses is read again through the cattrs converter, the liberal path that
users see and extend, so only records that need it pay for it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

import attrs
import cattrs
import msgspec
from cattrs.gen import make_dict_unstructure_fn

from .errors import DecodeError, request_id_of
from .models import Customer, NewCustomer

PREVIEW_BYTES = 800
"""How many leading bytes of a streamed body are kept on `DecodeError.body`."""


def _liberal_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    return _number_text(value)


def _liberal_optional_str(value: Any, _: Any) -> str | None:
    # The dedicated hook keeps `str | None` as fast as a plain field: cattrs'
    # generic union handling is several times slower.
    if value is None or type(value) is str:
        return value
    return _number_text(value)


def _number_text(value: Any) -> str:
    """A JSON number's text (`92006` -> "92006"); anything else is unreadable as a string."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return str(value)
    if isinstance(value, str):  # a str subclass, from a user's own structure() call
        return str(value)
    raise TypeError(f"expected a string, got {json_type(value)}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    conv.register_structure_hook(str, _liberal_str)
    conv.register_structure_hook(str | None, _liberal_optional_str)
    conv.register_unstructure_hook(
        NewCustomer,
        make_dict_unstructure_fn(NewCustomer, conv, _cattrs_omit_if_default=True),
    )
    return conv


#: The one cattrs converter: `converter.structure(data, Customer)` reads a decoded
#: dict as liberally as a response (a webhook's payload, a stored record), and
#: `converter.unstructure(new_customer)` is what POST /customers sends. Response
#: bodies of the documented shape are decoded in C straight into the same classes;
#: what that fast path refuses is read through this converter, with your hooks.
converter: cattrs.Converter = _make_converter()
# Looked up once: the dispatch in converter.structure() is a quarter of a customer's cost.
_structure_customer: Callable[[Any, type[Customer]], Customer] = converter.get_structure_hook(
    Customer
)

# The fast path: the documented shape, decoded in C into the same classes.
_fast_customer = msgspec.json.Decoder(Customer)
_fast_customers = msgspec.json.Decoder(list[Customer])
_fast_items = msgspec.json.Decoder(list[msgspec.Raw])
_any_json = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def _loads(body: bytes, status: int | None, headers: Mapping[str, str] | None) -> Any:
    try:
        return _any_json.decode(body)
    except msgspec.DecodeError as exc:
        raise _failure(_malformed(exc, body), status, body, headers) from exc
    except RecursionError:
        raise _failure("JSON nested too deeply", status, body, headers) from None


_BYTE = re.compile(r"\(byte (\d+)\)")


def _failure(
    message: str, status: int | None, body: bytes, headers: Mapping[str, str] | None
) -> DecodeError:
    request_id = request_id_of(headers) if headers else None
    return DecodeError(message, status=status, body=body, request_id=request_id)


def _malformed(exc: msgspec.DecodeError, body: bytes) -> str:
    """Why a body is not JSON, by position only: msgspec's own words could change."""
    if not body.strip():
        return "empty body"
    text = str(exc)
    if "out of range" in text:
        return f"a number out of range in a body of {len(body)} bytes"
    found = _BYTE.search(text)
    if found is None:
        return f"not valid JSON: the body of {len(body)} bytes ends too early"
    return f"not valid JSON at byte {found.group(1)} of {len(body)}"


def read_customer(data: Any) -> Customer:
    """A `Customer` from decoded JSON (a dict), read liberally; `DecodeError` when unreadable.

    The liberal path on its own, for data that did not come through a response
    body (a webhook's payload, a record stored earlier).
    """
    try:
        return _structure_customer(data, Customer)
    except Exception as exc:
        raise DecodeError(_explain(Customer, data)) from exc


def _explain(cls: type[Any], data: Any) -> str:
    """Say which field of `data` cannot be read as `cls` (only run on the error path)."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {json_type(data)}"
    for field in attrs.fields(cls):
        if field.name not in data:
            if field.default is attrs.NOTHING:
                return f"missing field {field.name!r}"
            continue
        value = data[field.name]
        if value is None and field.default is attrs.NOTHING:
            return f"field {field.name!r} is null"
        try:
            _liberal_optional_str(value, None)
        except TypeError:
            return f"field {field.name!r} should be a string, got {json_type(value)}"
    return "unexpected shape"  # pragma: no cover - the checks above mirror the hooks


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, int | float) else "value")


# What POST /customers sends, encoded in C without an intermediate dict: a msgspec
# struct made from NewCustomer's own fields, whose unset (None) fields are left out.
_NEW_FIELDS = attrs.fields(NewCustomer)
_NewCustomerJSON = msgspec.defstruct(
    "NewCustomerJSON",
    [
        (f.name, Any) if f.default is attrs.NOTHING else (f.name, Any, f.default)
        for f in _NEW_FIELDS
    ],
    omit_defaults=True,
)
_values_of = operator.attrgetter(*(field.name for field in _NEW_FIELDS))


def encode_new_customer(customer: NewCustomer) -> bytes:
    """JSON body for POST /customers, without the fields left unset.

    The same object as `converter.unstructure(customer)`, encoded (a test holds
    the two together).
    """
    try:
        return _encoder.encode(_NewCustomerJSON(*_values_of(customer)))
    except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as exc:
        reason = _unencodable(converter.unstructure(customer))
        raise ValueError(f"cannot send the customer: {reason}") from exc


def _unencodable(data: dict[str, Any]) -> str:
    """Say which field JSON cannot carry (only run on the error path)."""
    for name, value in data.items():
        if not isinstance(value, str):
            return f"field {name!r} should be a string, got {type(value).__name__}"
        try:
            value.encode()
        except UnicodeEncodeError:
            # JSON text is UTF-8; a lone surrogate (e.g. from surrogateescape) has no encoding.
            return f"field {name!r} is not valid Unicode text (it holds a lone surrogate)"
    return "not representable as JSON"  # pragma: no cover - the checks above cover msgspec's


def decode_customer(
    body: bytes, *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> Customer:
    """One `Customer` from a response body, or `DecodeError`."""
    try:
        return _fast_customer.decode(body)
    except (msgspec.ValidationError, RecursionError):
        pass  # not the documented shape: read it liberally below
    except msgspec.DecodeError as exc:
        raise _failure(_malformed(exc, body), status, body, headers) from exc
    return _read_item(_loads(body, status, headers), None, status, body, headers)


def decode_customer_list(
    body: bytes, *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> list[Customer]:
    """A list of `Customer` from a JSON array body, or `DecodeError`."""
    try:
        return _fast_customers.decode(body)
    except (msgspec.ValidationError, RecursionError):
        pass
    except msgspec.DecodeError as exc:
        raise _failure(_malformed(exc, body), status, body, headers) from exc
    try:
        items = _fast_items.decode(body)
    except (msgspec.DecodeError, RecursionError):
        data = _loads(body, status, headers)  # raises first if the body is not JSON
        raise _failure(
            f"expected a JSON array, got {json_type(data)}", status, body, headers
        ) from None
    # Item by item: the documented ones stay on the fast path.
    return [_decode_item(item, index, status, body, headers) for index, item in enumerate(items)]


def _decode_item(
    raw: msgspec.Raw, index: int, status: int | None, body: bytes, headers: Mapping[str, str] | None
) -> Customer:
    try:
        return _fast_customer.decode(raw)
    except (msgspec.ValidationError, RecursionError):
        pass
    try:
        data = _any_json.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:  # out of range, nested too deeply
        what = "nested too deeply" if isinstance(exc, RecursionError) else "a number out of range"
        raise _failure(f"item {index}: {what}", status, body, headers) from None
    return _read_item(data, index, status, body, headers)


def _read_item(
    data: Any, index: int | None, status: int | None, body: bytes, headers: Mapping[str, str] | None
) -> Customer:
    try:
        return _structure_customer(data, Customer)
    except Exception as exc:
        where = "" if index is None else f"item {index}: "
        raise _failure(where + _explain(Customer, data), status, body, headers) from exc


async def decode_customer_stream(
    chunks: AsyncIterator[bytes],
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncGenerator[Customer, None]:
    """Customers from a JSON array arriving in chunks, decoded as they complete.

    Memory stays flat whatever the array's length: only the element being
    received is held. Each complete element goes to the same C decoder as
    `list()`, so a body cut off mid-array raises `DecodeError` after the
    complete customers, never a half one.
    """
    reader = _ArrayReader(status, headers)
    try:
        async for chunk in chunks:
            if chunk:
                for customer in reader.feed(chunk):
                    yield customer
        reader.finish()
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


MAX_ITEM_BYTES = 8 * 1024 * 1024
"""An element of a streamed array larger than this is refused, so memory stays bounded."""

_SPACE = b" \t\r\n"
_NOT_AN_OBJECT = {ord("["): "array", ord('"'): "string", ord("t"): "boolean", ord("f"): "boolean"}
_NOT_AN_OBJECT |= {ord("n"): "null"} | dict.fromkeys(b"-0123456789", "number")


MAX_TRIES = 8
"""Decodes tried at the `}`s of one element before it is scanned to its end instead."""

_SPECIAL = re.compile(rb'[][{}"]')
"""What the one-pass scan of an element looks at: brackets and quotes."""


class _Truncated(Exception):
    """The bytes so far end inside the element: wait for more."""


class _ArrayReader:
    """Cuts a JSON array arriving in chunks into its elements and decodes each.

    An element ends at a `}` where its bytes so far are complete JSON: a `}`
    inside a string or a nested object leaves them truncated, which msgspec
    says apart from malformed. Flat customers have one `}`, so one decode each.
    """

    def __init__(self, status: int | None, headers: Mapping[str, str] | None) -> None:
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
        self.state = "open"  # open -> item|close -> next -> item -> ... -> done
        self.index = 0
        self.error: DecodeError | None = None

    def feed(self, chunk: bytes) -> list[Customer]:
        """The customers completed by `chunk`; an error is raised after they are yielded."""
        if self.error is not None:
            raise self.error
        if len(self.head) < PREVIEW_BYTES:
            self.head += chunk[: PREVIEW_BYTES - len(self.head)]
        self.buf += chunk
        done: list[Customer] = []
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
        raise self._fail(f"body ended after {self.index} customers")

    def _scan(self, done: list[Customer]) -> None:
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
                    customer = self._element()
                    if customer is None:
                        return  # wait for more bytes
                    done.append(customer)
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

    def _batch(self, done: list[Customer]) -> bool:
        """Decode every element from `pos` to the buffer's last `}` in one C call.

        Flat customers end at their only `}`, so that is usually all the complete
        elements of the chunk. If the span holds anything else (an odd record, a
        `}` inside the element still arriving), it fails and each element is
        read on its own. A span that decodes is whole elements: a `}` inside a
        string or a nested object cannot end valid JSON.
        """
        last = self.buf.rfind(b"}")
        if self.tries or last <= self.pos:
            return False
        try:
            customers = _fast_customers.decode(b"[" + self.buf[self.pos : last + 1] + b"]")
        except (msgspec.DecodeError, RecursionError):
            return False
        done.extend(customers)
        self.index += len(customers)
        self.pos = self.probe = last + 1
        self.state = "next"
        return True

    def _element(self) -> Customer | None:
        """The customer whose object starts at `pos`, or None while it is incomplete."""
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

    def _took(self, end: int, customer: Customer) -> Customer:
        self.pos = self.probe = end
        self.tries, self.scan, self.depth, self.in_string = 0, -1, 0, False
        return customer

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

    def _decode(self, raw: bytearray) -> Customer:
        try:
            return _fast_customer.decode(raw)
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
        return _read_item(data, self.index, self.status, self.head, self.headers)

    def _truncated_or_invalid(self, exc: msgspec.DecodeError) -> Exception:
        return _Truncated() if "truncated" in str(exc) else self._invalid()

    def _invalid(self) -> DecodeError:
        return self._fail(f"invalid JSON after {self.index} customers")

    def _fail(self, message: str) -> DecodeError:
        return _failure(message, self.status, self.head, self.headers)
