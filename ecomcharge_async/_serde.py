"""The one cattrs converter, and the JSON encode/decode of request and response bodies.

Decoding is strict about types (a number where a string belongs is an error,
not silently turned into a string) and lenient about unknown fields, which the
API may add at any time. JSON goes through orjson: parsing is about half of
the cost of decoding a customer list, and orjson parses twice as fast as the
standard library (see docs/guides/performance.md).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import attrs
import cattrs
import ijson  # type: ignore[import-untyped]
import orjson
from cattrs.gen import make_dict_unstructure_fn

from ._depth import DepthGuard
from ._errors import DecodeError
from ._models import Customer, NewCustomer

PREVIEW_BYTES = 800


def _strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _optional_str(value: Any, _: Any) -> str | None:
    # The dedicated hook keeps `str | None` as fast as a plain field: cattrs'
    # generic union handling is several times slower.
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string or null, got {type(value).__name__}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(str | None, _optional_str)
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


def _loads(body: bytes, status: int | None) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("not valid JSON", status=status, body=body) from exc


def _explain(cls: type[Any], data: Any) -> str:
    """Say which field of `data` does not fit `cls` (only run on the error path)."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {json_type(data)}"
    for field in attrs.fields(cls):
        if field.name not in data:
            if field.default is attrs.NOTHING:
                return f"missing field {field.name!r}"
            continue
        value = data[field.name]
        optional = field.default is not attrs.NOTHING
        if not (isinstance(value, str) or (optional and value is None)):
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
        return orjson.dumps(data)
    except orjson.JSONEncodeError as exc:
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
    return "not representable as JSON"  # pragma: no cover - the checks above cover orjson's


def decode_customer(body: bytes, *, status: int | None = None) -> Customer:
    """One `Customer` from a response body, or `DecodeError`."""
    data = _loads(body, status)
    try:
        return _structure_customer(data, Customer)
    except Exception as exc:
        raise DecodeError(_explain(Customer, data), status=status, body=body) from exc


def decode_customer_list(body: bytes, *, status: int | None = None) -> list[Customer]:
    """A list of `Customer` from a JSON array body, or `DecodeError`."""
    data = _loads(body, status)
    if not isinstance(data, list):
        raise DecodeError(f"expected a JSON array, got {json_type(data)}", status=status, body=body)
    try:
        return [_structure_customer(item, Customer) for item in data]
    except Exception:
        # Only on the error path: find the first bad item to name it.
        for index, item in enumerate(data):
            _structure_item(item, index, status, body)
        raise AssertionError("no item failed") from None  # pragma: no cover


async def decode_customer_stream(
    chunks: AsyncIterator[bytes], *, status: int | None = None
) -> AsyncGenerator[Customer, None]:
    """Customers from a JSON array arriving in chunks, decoded as they complete.

    Memory stays flat whatever the array's length: ijson (its C backend)
    yields each element once it is whole, so a body cut off mid-array raises
    `DecodeError` after the complete customers, never a half one.
    """
    items: list[Any] = ijson.sendable_list()
    parser = ijson.items_coro(items, "item", use_float=True)
    depth = DepthGuard()
    head = b""  # the first bytes, to check the array and to preview in errors
    index = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue  # ijson reads an empty chunk as the end of the body
            if len(head) < PREVIEW_BYTES:
                head += chunk[: PREVIEW_BYTES - len(head)]
                start = head.lstrip()[:1]
                if start and start != b"[":
                    raise DecodeError("expected a JSON array", status=status, body=head)
            if depth.too_deep(chunk):
                raise DecodeError(
                    f"JSON nested more than {depth.limit} levels deep", status=status, body=head
                )
            broken = _feed(parser, chunk)
            for item in items:
                yield _structure_item(item, index, status, head)
                index += 1
            del items[:]
            if broken is not None:
                raise DecodeError(
                    f"invalid JSON after {index} customers", status=status, body=head
                ) from broken
        broken = _feed(parser, None)
        for item in items:
            yield _structure_item(item, index, status, head)
            index += 1
        if broken is not None:
            what = "empty body" if not head.strip() else f"body ended after {index} customers"
            raise DecodeError(what, status=status, body=head) from broken
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


def _structure_item(item: Any, index: int, status: int | None, body: bytes) -> Customer:
    try:
        return _structure_customer(item, Customer)
    except Exception as exc:
        raise DecodeError(
            f"item {index}: {_explain(Customer, item)}", status=status, body=body
        ) from exc
