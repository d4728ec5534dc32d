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
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

import attrs
import cattrs
import ijson  # type: ignore[import-untyped]
import msgspec
from cattrs.gen import make_dict_unstructure_fn

from ._errors import DecodeError, request_id_of
from ._models import Customer, NewCustomer

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


converter = _make_converter()
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


def encode_new_customer(customer: NewCustomer) -> bytes:
    """JSON body for POST /customers, without the fields left unset."""
    data = converter.unstructure(customer)
    try:
        return _encoder.encode(data)
    except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as exc:
        raise ValueError(f"cannot send the customer: {_unencodable(data)}") from exc


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

    Memory stays flat whatever the array's length: ijson (its C backend)
    yields each element once it is whole, so a body cut off mid-array raises
    `DecodeError` after the complete customers, never a half one.
    """
    items: list[Any] = ijson.sendable_list()
    parser = ijson.items_coro(items, "item", use_float=True)
    head = b""  # the first bytes, to check the array; kept on DecodeError.body
    index = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue  # ijson reads an empty chunk as the end of the body
            if len(head) < PREVIEW_BYTES:
                head += chunk[: PREVIEW_BYTES - len(head)]
                start = head.lstrip()[:1]
                if start and start != b"[":
                    raise _failure("expected a JSON array", status, head, headers)
            broken = _feed(parser, chunk)
            for item in items:
                yield _read_item(item, index, status, head, headers)
                index += 1
            del items[:]
            if broken is not None:
                raise _failure(
                    f"invalid JSON after {index} customers", status, head, headers
                ) from broken
        broken = _feed(parser, None)
        for item in items:
            yield _read_item(item, index, status, head, headers)
            index += 1
        if broken is not None:
            what = "empty body" if not head.strip() else f"body ended after {index} customers"
            raise _failure(what, status, head, headers) from broken
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _feed(parser: Any, chunk: bytes | None) -> Exception | None:
    """Give the parser a chunk (None: the end); its error is returned, to raise after
    the customers completed before it are yielded."""
    try:
        if chunk is None:
            parser.close()
        else:
            parser.send(chunk)
    except ijson.JSONError as exc:
        error: Exception = exc
        return error
    return None
