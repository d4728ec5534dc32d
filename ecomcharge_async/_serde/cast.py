"""What `client.request()` sends and reads back: any JSON value, or the type asked for.

Strict in what it sends: attrs instances are unstructured by the public
converter (their defaults left out, as for the models), then encoded as JSON.
Liberal in what it reads: `cast=None` gives the decoded JSON (None for an
empty body); an attrs class, or a `list` of one, goes through its `Codec`
(the C fast path, then the converter); any other type through the converter.
What cannot be read raises `DecodeError`, naming the type, never the data.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from .codec import Codec, Decoder, load_json, the_converter
from .explain import failure

_encoder = msgspec.json.Encoder()
#: Decoders made so far, by the `cast` they read into: a type is read the same way each time.
_decoders: dict[Any, Decoder[Any]] = {}


def encode_json(value: Any) -> bytes:
    """A request body: `value` (attrs instances unstructured by the converter) as JSON."""
    try:
        return _encoder.encode(the_converter().unstructure(value))
    except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as exc:
        raise TypeError(
            f"json= must be JSON-serialisable (or attrs instances), got {type(value).__name__}"
        ) from exc


def decoder_for(cast: Any) -> Decoder[Any]:
    """The decoder that reads a 2xx body into `cast` (None: the decoded JSON)."""
    found = _decoders.get(cast)
    if found is None:
        found = _decoders[cast] = _make(cast)
    return found


def _make(cast: Any) -> Decoder[Any]:
    if cast is None:
        return decode_json
    if isinstance(cast, type) and attrs.has(cast):
        return Codec(cast).decode
    if typing.get_origin(cast) is list:
        item = typing.get_args(cast)[0]
        if isinstance(item, type) and attrs.has(item):
            return Codec(item).decode_list
    return _structured(cast)


def decode_json(
    body: bytes, /, *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> Any:
    """The decoded JSON of `body`; None when there is none (a 204)."""
    if not body:
        return None
    return load_json(body, status, headers)


def _structured(cast: Any) -> Decoder[Any]:
    name = getattr(cast, "__name__", None) or repr(cast)

    def decode(
        body: bytes, /, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        data = decode_json(body, status=status, headers=headers)
        try:
            return the_converter().structure(data, cast)
        except Exception as exc:
            raise failure(f"the body cannot be read as {name}", status, body, headers) from exc

    return decode
