"""A codec per attrs model: encode it, decode one, a list, or a stream of them.

Built from the attrs class alone, so a second resource gets its codec by
constructing one (`Codec(Plan)`), not by writing new functions. Strict in what
it sends: fields left at their default are not sent. Liberal in what it reads:
a body of the documented shape decodes in C (msgspec) straight into the attrs
class (see docs/guides/performance.md); one it refuses is read again through
the public cattrs converter, so only records that need it pay for it. What
cannot be read at all raises `DecodeError`, saying where and what, never the data.

The five operations are plain functions made for the class (closures), not
methods: a call site passes `CUSTOMER.decode` on with no bound method made per
call, and each call reads its decoders from the closure, not from `self`.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import attrs
import msgspec

from .._core.errors import DecodeError
from .explain import failure, json_type, malformed, unencodable, unreadable
from .json_array import ArrayReader, ReadItem, read_array

if TYPE_CHECKING:
    import cattrs

T = TypeVar("T", bound=attrs.AttrsInstance)
T_co = TypeVar("T_co", covariant=True)

_any_json = msgspec.json.Decoder()
_raw_items = msgspec.json.Decoder(list[msgspec.Raw])
_encoder = msgspec.json.Encoder()


class Decoder(Protocol[T_co]):
    """A response body to a value, or `DecodeError` naming the status and request id."""

    def __call__(
        self, body: bytes, /, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> T_co: ...


class StreamDecoder(Protocol[T_co]):
    """A JSON array arriving in chunks to its items, each yielded once complete."""

    def __call__(
        self,
        chunks: AsyncIterator[bytes],
        /,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[T_co]: ...


class Codec(Generic[T]):
    """How one attrs model travels as JSON; `name` words its errors ("customer").

    `encode(obj)` the request body, without fields left at their default;
    `decode(body)` one item; `decode_list(body)` a JSON array of them;
    `decode_stream(chunks)` the same array read as it arrives, in flat memory;
    `read(data)` an item from already decoded JSON (a webhook's payload).
    """

    __slots__ = ("cls", "decode", "decode_list", "decode_stream", "encode", "name", "read")

    def __init__(self, cls: type[T], *, name: str | None = None) -> None:
        self.cls = cls
        self.name = name or cls.__name__.lower()
        one: msgspec.json.Decoder[T] = msgspec.json.Decoder(cls)
        many: msgspec.json.Decoder[list[T]] = msgspec.json.Decoder(list[cls])  # type: ignore[valid-type]
        structure = _structurer(cls)
        read_item = _liberal_reader(cls, structure)
        self.encode: Callable[[T], bytes] = _encoder_of(cls, self.name)
        self.decode: Decoder[T] = _one_decoder(one, read_item)
        self.decode_list: Decoder[list[T]] = _list_decoder(one, many, read_item)
        self.decode_stream: StreamDecoder[T] = _stream_decoder(one, many, read_item, self.name)
        self.read: Callable[[Any], T] = _reader(cls, structure)


def _encoder_of(cls: type[T], name: str) -> Callable[[T], bytes]:
    """Encodes through a msgspec struct of `cls`'s fields: no intermediate dict.

    Fields equal to their default are left out, as `converter.unstructure()`
    leaves them out for a model registered to omit them (`NewCustomer`).
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
    # attrgetter of one name gives the value itself, not a tuple of one.
    values: Callable[[T], tuple[Any, ...]] = (
        operator.attrgetter(*names) if len(names) > 1 else lambda obj: (getattr(obj, names[0]),)
    )
    encode = _encoder.encode

    def encode_one(obj: T) -> bytes:
        try:
            return encode(struct(*values(obj)))
        except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as exc:
            raise ValueError(f"cannot send the {name}: {unencodable(obj)}") from exc

    return encode_one


def the_converter() -> cattrs.Converter:
    """The public converter, imported when first needed: documented bodies never need
    it, and importing cattrs was a third of what `ecomcharge import` adds to a start."""
    from .converter import converter

    return converter


def _structurer(cls: type[T]) -> Callable[[Any], T]:
    """The converter's reading of `cls`, its hook looked up when first needed.

    Documented bodies never need it; once made, the hook is called directly:
    the dispatch in `converter.structure()` is a quarter of an item's cost.
    """
    hooks: list[Callable[[Any, type[T]], T]] = []

    def structure(data: Any) -> T:
        if not hooks:
            hooks.append(the_converter().get_structure_hook(cls))
        return hooks[0](data, cls)

    return structure


def _liberal_reader(cls: type[T], structure: Callable[[Any], T]) -> ReadItem[T]:
    """Reads decoded JSON liberally; a `DecodeError` says which item and field, not the data."""

    def read_item(
        data: Any,
        index: int | None,
        status: int | None,
        body: bytes,
        headers: Mapping[str, str] | None,
    ) -> T:
        try:
            return structure(data)
        except Exception as exc:
            where = "" if index is None else f"item {index}: "
            message = where + unreadable(cls, data, the_converter())
            raise failure(message, status, body, headers) from exc

    return read_item


def _reader(cls: type[T], structure: Callable[[Any], T]) -> Callable[[Any], T]:
    """Reads decoded JSON that came with no response (a webhook's payload, a stored record)."""

    def read(data: Any) -> T:
        try:
            return structure(data)
        except Exception as exc:
            raise DecodeError(unreadable(cls, data, the_converter())) from exc

    return read


def _one_decoder(one: msgspec.json.Decoder[T], read_item: ReadItem[T]) -> Decoder[T]:
    def decode(
        body: bytes, /, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> T:
        try:
            return one.decode(body)
        except (msgspec.ValidationError, RecursionError):
            pass  # not the documented shape: read it liberally below
        except msgspec.DecodeError as exc:
            raise failure(malformed(exc, body), status, body, headers) from exc
        return read_item(load_json(body, status, headers), None, status, body, headers)

    return decode


def _list_decoder(
    one: msgspec.json.Decoder[T], many: msgspec.json.Decoder[list[T]], read_item: ReadItem[T]
) -> Decoder[list[T]]:
    def decode_list(
        body: bytes, /, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> list[T]:
        try:
            return many.decode(body)
        except (msgspec.ValidationError, RecursionError):
            pass
        except msgspec.DecodeError as exc:
            raise failure(malformed(exc, body), status, body, headers) from exc
        try:
            raws = _raw_items.decode(body)
        except (msgspec.DecodeError, RecursionError):
            data = load_json(body, status, headers)  # raises first if the body is not JSON
            message = f"expected a JSON array, got {json_type(data)}"
            raise failure(message, status, body, headers) from None
        # Item by item: the documented ones stay on the fast path.
        return [decode_item(raw, index, status, body, headers) for index, raw in enumerate(raws)]

    def decode_item(
        raw: msgspec.Raw,
        index: int,
        status: int | None,
        body: bytes,
        headers: Mapping[str, str] | None,
    ) -> T:
        try:
            return one.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            pass
        try:
            data = _any_json.decode(raw)
        except (msgspec.DecodeError, RecursionError) as exc:  # out of range, nested too deeply
            what = (
                "nested too deeply" if isinstance(exc, RecursionError) else "a number out of range"
            )
            raise failure(f"item {index}: {what}", status, body, headers) from None
        return read_item(data, index, status, body, headers)

    return decode_list


def _stream_decoder(
    one: msgspec.json.Decoder[T],
    many: msgspec.json.Decoder[list[T]],
    read_item: ReadItem[T],
    name: str,
) -> StreamDecoder[T]:
    def decode_stream(
        chunks: AsyncIterator[bytes],
        /,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[T]:
        """Each complete element goes to the same C decoder as `decode_list`."""
        reader = ArrayReader(one, many, read_item, f"{name}s", status=status, headers=headers)
        return read_array(chunks, reader)

    return decode_stream


def load_json(body: bytes, status: int | None, headers: Mapping[str, str] | None) -> Any:
    """`body` as plain JSON values; a `DecodeError` that quotes none of it if it is no JSON."""
    try:
        return _any_json.decode(body)
    except msgspec.DecodeError as exc:
        raise failure(malformed(exc, body), status, body, headers) from exc
    except RecursionError:
        raise failure("JSON nested too deeply", status, body, headers) from None
