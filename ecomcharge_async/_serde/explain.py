"""Why a body could not be read, or a model could not be sent: said by position,
field name and JSON type, never by quoting the data (bodies hold personal data).

Only run on the error path; the readers stay fast by not asking.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import msgspec

from .._core.errors import DecodeError, request_id_of

if TYPE_CHECKING:
    import cattrs


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, int | float) else "value")


def failure(
    message: str, status: int | None, body: bytes, headers: Mapping[str, str] | None
) -> DecodeError:
    """The `DecodeError` of a response, its body and request id kept on it."""
    request_id = request_id_of(headers) if headers else None
    return DecodeError(message, status=status, body=body, request_id=request_id)


_BYTE = re.compile(r"\(byte (\d+)\)")


def malformed(exc: msgspec.DecodeError, body: bytes) -> str:
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


_EXPECTED = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


def _expected(tp: Any) -> str:
    """What a field's type asks for, in JSON words: `str | None` -> "a string"."""
    if typing.get_origin(tp) in (typing.Union, type(int | None)):
        tp = next(arg for arg in typing.get_args(tp) if arg is not type(None))
    return _EXPECTED.get(tp, getattr(tp, "__name__", "another type"))


def unreadable(cls: type[Any], data: Any, converter: cattrs.Converter) -> str:
    """Which field of `data` cannot be read as `cls`: each one tried with the converter's hook."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {json_type(data)}"
    types = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        required = field.default is attrs.NOTHING
        if field.name not in data:
            if required:
                return f"missing field {field.name!r}"
            continue
        value = data[field.name]
        if value is None and required:
            return f"field {field.name!r} is null"
        tp = types[field.name]
        try:
            converter.get_structure_hook(tp)(value, tp)
        except Exception:
            return f"field {field.name!r} should be {_expected(tp)}, got {json_type(value)}"
    return "unexpected shape"  # pragma: no cover - a user hook on the whole model refused it


_encoder = msgspec.json.Encoder()


def unencodable(obj: Any) -> str:
    """Which field of an attrs instance JSON cannot carry."""
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        try:
            _encoder.encode(value)
        except UnicodeEncodeError:
            # JSON text is UTF-8; a lone surrogate (e.g. from surrogateescape) has no encoding.
            return f"field {field.name!r} is not valid Unicode text (it holds a lone surrogate)"
        except (TypeError, msgspec.EncodeError):
            expected = _expected(typing.get_type_hints(type(obj))[field.name])
            return f"field {field.name!r} should be {expected}, got {type(value).__name__}"
    return "not representable as JSON"  # pragma: no cover - each field encodes on its own
