"""A codec per attrs model: encode it, decode one, a list, or a stream of them.

Built from the attrs class alone, so a second resource gets its codec by
constructing one (`Codec(Plan)`), not by writing new functions. Strict in what
it sends: fields left at their default are not sent. Liberal in what it reads:
a body of the documented shape decodes in C (msgspec) straight into the attrs
class (see docs/guides/performance.md); one it refuses is read again through
the public cattrs converter, so only records that need it pay for it. What
cannot be read at all raises `DecodeError`, saying where and what, never the data.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs
import msgspec

from .._core.errors import DecodeError
from .converter import converter
from .explain import failure, json_type, malformed, unencodable, unreadable
from .json_array import ArrayReader, read_array

T = TypeVar("T")

_any_json = msgspec.json.Decoder()
_raw_items = msgspec.json.Decoder(list[msgspec.Raw])
_encoder = msgspec.json.Encoder()


def _wire_struct(cls: type[Any]) -> tuple[type[msgspec.Struct], Callable[[Any], tuple[Any, ...]]]:
    """A msgspec struct of `cls`'s fields that leaves defaults out, and a getter of its values.

    Encoding through it skips the intermediate dict; the output is the object
    `converter.unstructure()` gives for a model whose defaults it omits.
    """
    fields = attrs.fields(cls)
    spec: list[tuple[str, Any, Any]] = []
    for field in fields:
        default = field.default
        if default is attrs.NOTHING:
            default = msgspec.UNSET  # required: always set, so always sent
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = msgspec.field(default_factory=default.factory)
        spec.append((field.name, Any, default))
    struct = msgspec.defstruct(f"{cls.__name__}JSON", spec, omit_defaults=True)
    names = [field.name for field in fields]
    if len(names) == 1:
        return struct, lambda obj: (getattr(obj, names[0]),)
    return struct, operator.attrgetter(*names)


class Codec(Generic[T]):
    """How one attrs model travels as JSON; `name` words its errors ("customer")."""

    __slots__ = ("_many", "_one", "_struct", "_structure", "_values", "cls", "name", "plural")

    def __init__(self, cls: type[T], *, name: str | None = None) -> None:
        self.cls = cls
        self.name = name or cls.__name__.lower()
        self.plural = f"{self.name}s"
        self._one: msgspec.json.Decoder[T] = msgspec.json.Decoder(cls)
        self._many: msgspec.json.Decoder[list[T]] = msgspec.json.Decoder(list[cls])  # type: ignore[valid-type]
        self._structure: Callable[[Any, type[T]], T] | None = None  # made on first use
        self._struct, self._values = _wire_struct(cls)

    def encode(self, obj: T) -> bytes:
        """The JSON body for `obj`, without the fields left at their default."""
        try:
            return _encoder.encode(self._struct(*self._values(obj)))
        except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as exc:
            raise ValueError(f"cannot send the {self.name}: {unencodable(obj)}") from exc

    def read(self, data: Any) -> T:
        """An item from decoded JSON (a dict), read liberally; `DecodeError` when unreadable.

        The liberal path on its own, for data that did not come through a
        response body (a webhook's payload, a record stored earlier).
        """
        try:
            return self._liberal(data)
        except Exception as exc:
            raise DecodeError(unreadable(self.cls, data, converter)) from exc

    def decode(
        self, body: bytes, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> T:
        """One item from a response body, or `DecodeError`."""
        try:
            return self._one.decode(body)
        except (msgspec.ValidationError, RecursionError):
            pass  # not the documented shape: read it liberally below
        except msgspec.DecodeError as exc:
            raise failure(malformed(exc, body), status, body, headers) from exc
        return self._read_item(_loads(body, status, headers), None, status, body, headers)

    def decode_list(
        self, body: bytes, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> list[T]:
        """A list of items from a JSON array body, or `DecodeError`."""
        try:
            return self._many.decode(body)
        except (msgspec.ValidationError, RecursionError):
            pass
        except msgspec.DecodeError as exc:
            raise failure(malformed(exc, body), status, body, headers) from exc
        try:
            items = _raw_items.decode(body)
        except (msgspec.DecodeError, RecursionError):
            data = _loads(body, status, headers)  # raises first if the body is not JSON
            message = f"expected a JSON array, got {json_type(data)}"
            raise failure(message, status, body, headers) from None
        # Item by item: the documented ones stay on the fast path.
        return [
            self._decode_item(raw, index, status, body, headers) for index, raw in enumerate(items)
        ]

    def decode_stream(
        self,
        chunks: AsyncIterator[bytes],
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[T]:
        """Items from a JSON array arriving in chunks, each yielded once complete.

        Each complete element goes to the same C decoder as `decode_list`; a
        body cut off mid-array raises `DecodeError` after the complete items.
        """
        reader = ArrayReader(
            self._one, self._many, self._read_item, self.plural, status=status, headers=headers
        )
        return read_array(chunks, reader)

    def _liberal(self, data: Any) -> T:
        # The class's hook is looked up once, when first needed (documented bodies never
        # need it): the dispatch in converter.structure() is a quarter of an item's cost.
        if self._structure is None:
            self._structure = converter.get_structure_hook(self.cls)
        return self._structure(data, self.cls)

    def _decode_item(
        self,
        raw: msgspec.Raw,
        index: int,
        status: int | None,
        body: bytes,
        headers: Mapping[str, str] | None,
    ) -> T:
        try:
            return self._one.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            pass
        try:
            data = _any_json.decode(raw)
        except (msgspec.DecodeError, RecursionError) as exc:  # out of range, nested too deeply
            what = (
                "nested too deeply" if isinstance(exc, RecursionError) else "a number out of range"
            )
            raise failure(f"item {index}: {what}", status, body, headers) from None
        return self._read_item(data, index, status, body, headers)

    def _read_item(
        self,
        data: Any,
        index: int | None,
        status: int | None,
        body: bytes,
        headers: Mapping[str, str] | None,
    ) -> T:
        try:
            return self._liberal(data)
        except Exception as exc:
            where = "" if index is None else f"item {index}: "
            message = where + unreadable(self.cls, data, converter)
            raise failure(message, status, body, headers) from exc


def _loads(body: bytes, status: int | None, headers: Mapping[str, str] | None) -> Any:
    try:
        return _any_json.decode(body)
    except msgspec.DecodeError as exc:
        raise failure(malformed(exc, body), status, body, headers) from exc
    except RecursionError:
        raise failure("JSON nested too deeply", status, body, headers) from None
