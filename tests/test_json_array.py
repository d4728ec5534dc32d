"""The incremental JSON array reader: elements decoded as they arrive, however the body is cut.

Through the customer codec's `decode_stream` (what `customers.iter()` uses),
checked against `decode_list` on the same bytes; and on an item type of its
own, since the reader is generic over what it decodes.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import customer_like, customers

import ecomcharge_async as ec
from ecomcharge_async._core.customers import CUSTOMER
from ecomcharge_async._serde.json_array import ArrayReader, read_array

decode_customer_list, decode_customer_stream = CUSTOMER.decode_list, CUSTOMER.decode_stream
read_customer = CUSTOMER.read


async def _chunked(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(set(cuts)):
        yield body[start:cut]
        start = cut
    yield body[start:]


async def _collect(body: bytes, cuts: list[int]) -> list[ec.Customer]:
    return [c async for c in decode_customer_stream(_chunked(body, cuts), status=200)]


@given(
    st.lists(customers, max_size=8),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
async def test_stream_decodes_like_the_whole_body_whatever_the_chunking(
    items: list[ec.Customer], cuts: list[int]
) -> None:
    body = json.dumps([attrs.asdict(c) for c in items], indent=1).encode()
    assert await _collect(body, cuts) == decode_customer_list(body) == items


async def test_stream_stops_at_a_cut_body_after_the_complete_customers() -> None:
    whole = json.dumps([{"id": f"cst_{i}", "email": "e", "ip": "i"} for i in range(3)]).encode()
    cut = whole[: whole.index(b"cst_2") + 3]
    seen: list[ec.Customer] = []

    async def read_all() -> None:
        async for customer in decode_customer_stream(_chunked(cut, [10, 40]), status=200):
            seen.append(customer)

    with pytest.raises(ec.DecodeError, match="body ended after 2 customers"):
        await read_all()
    assert [c.id for c in seen] == ["cst_0", "cst_1"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   ", "empty body"),
        (b'{"id": "cst_1"}', "expected a JSON array"),
        (b"  null", "expected a JSON array"),
        (b"<html>502</html>", "expected a JSON array"),
        (b'[{"id":"a","email":"e","ip":"i"}, 7]', "item 1: expected a JSON object, got number"),
        (b'[{"id":"a","email":"e"}, {"email":"e"}]', "item 1: missing field 'id'"),
        (b'[{"id":"a","zip":{"x":1}}]', "item 0: field 'zip' should be a string, got object"),
        (b'[{"id":"a","email":"e","ip":"i"} {"id"', "invalid JSON after 1 customers"),
    ],
)
async def test_stream_errors_are_decode_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ec.DecodeError, match=reason) as info:
        await _collect(body, [1, 5])
    assert info.value.status == 200


async def test_stream_closes_its_source_when_left_early() -> None:
    closed = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b'[{"id":"a","email":"e","ip":"i"},'
            yield b'{"id":"b","email":"e","ip":"i"}]'
        finally:
            closed.append(True)

    stream = decode_customer_stream(source())
    assert (await anext(stream)).id == "a"
    await stream.aclose()
    assert closed == [True]


async def _stream_outcome(body: bytes, cuts: list[int]) -> tuple[list[ec.Customer], str | None]:
    seen: list[ec.Customer] = []
    try:
        async for customer in decode_customer_stream(_chunked(body, cuts), status=200):
            seen.append(customer)
    except ec.DecodeError as exc:
        return seen, str(exc)
    return seen, None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(customer_like, max_size=5),
    st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    st.sampled_from(["", " ", "\n  "]),
)
async def test_streaming_reads_every_array_as_list_does_however_it_is_cut(
    items: list[object], cuts: list[int], space: str
) -> None:
    body = ("[" + space + ("," + space).join(json.dumps(item) for item in items) + "]").encode()
    seen, error = await _stream_outcome(body, cuts)
    try:
        listed = decode_customer_list(body)
    except ec.DecodeError as exc:
        assert error is not None  # the same item is named, the ones before it yielded
        bad = re.search(r"item (\d+): ", str(exc))
        assert bad is not None
        assert f"item {bad.group(1)}: " in error
        assert seen == [read_customer(item) for item in items[: int(bad.group(1))]]
    else:
        assert error is None
        assert seen == listed


@pytest.mark.parametrize(
    "body",
    [
        b'[{"id":"a}","note":"}{","x":{"y":{"z":"}"}}},{"id":"b"}]',
        b'[{"id":"a\\\\","q":"\\"}"},{"id":"b\\u007d"}]',
        b'[{"id":"a","deep":[[{"k":"}"}]]}]',
        # More braces than the decoder is tried at: the element is scanned to its end.
        b'[{"id":"a","n":"' + b"}" * 40 + b'\\\\","q":"\\"}\\\\\\"}"},{"id":"b"}]',
        b'[{"id":"a","x":' + b'{"y":' * 30 + b'"}"' + b"}" * 30 + b',"z":["}]"]},{"id":"b"}]',
    ],
)
async def test_braces_inside_strings_and_nested_objects_do_not_cut_an_element(
    body: bytes,
) -> None:
    for size in (1, 2, 3, 7, len(body)):
        cuts = list(range(size, len(body), size))
        assert await _stream_outcome(body, cuts) == (decode_customer_list(body), None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'[{"id":"a"},]', "invalid JSON after 1 customers"),
        (b'[{"id":"a"}] x', "invalid JSON after 1 customers"),
        (b'[{"id":"a"} {"id":"b"}]', "invalid JSON after 1 customers"),
        (b'[{"id":"a"},{"id" "b"}]', "invalid JSON after 1 customers"),
        (b'[{"id":"a"},{"id":"b","zip":1e999}]', "item 1: a number out of range"),
        # Deep nesting in a field: refused, as too deep or as an array (by Python version).
        (b'[{"id":"a"},{"id":"b","zip":' + b"[" * 5000 + b"]" * 5000 + b"}]", "item 1: "),
        (b"[x]", "invalid JSON after 0 customers"),
        (b"[", "body ended after 0 customers"),
        (b'[{"id":"a"},', "body ended after 1 customers"),
        (b'[{"id":"a"},"b"]', "item 1: expected a JSON object, got string"),
        (b'[{"id":"a"},null]', "item 1: expected a JSON object, got null"),
        (b'[{"id":"a"},false]', "item 1: expected a JSON object, got boolean"),
        (b'[{"id":"a"},[]]', "item 1: expected a JSON object, got array"),
    ],
)
async def test_a_broken_stream_names_where_after_the_customers_before_it(
    body: bytes, reason: str
) -> None:
    for cuts in ([], [3], list(range(1, len(body)))):
        seen, error = await _stream_outcome(body, cuts)
        assert error is not None
        assert reason in error
        assert [c.id for c in seen] == ["a", "b"][: len(seen)]


async def test_an_element_full_of_braces_is_read_in_one_pass() -> None:
    body = b'[{"id":"a","note":"' + b"}" * 1_000_000 + b'"},{"id":"b"}]'
    customers, error = await _stream_outcome(body, list(range(65536, len(body), 65536)))
    assert error is None
    assert [c.id for c in customers] == ["a", "b"]


async def test_an_endless_element_is_refused_once_it_passes_the_bound() -> None:
    async def endless() -> AsyncIterator[bytes]:
        yield b'[{"id":"a"},{"id":"'
        while True:
            yield b"x" * 65536

    seen: list[ec.Customer] = []

    async def read_all() -> None:
        async for customer in decode_customer_stream(endless(), status=200):
            seen.append(customer)

    with pytest.raises(ec.DecodeError, match="item 1 is larger than"):
        await read_all()
    assert seen == [ec.Customer(id="a")]


# -- generic over the item: a reader of plain {name: count} objects -------------------


def _read_counts(
    data: Any, index: int | None, status: int | None, body: bytes, headers: Mapping[str, str] | None
) -> dict[str, int]:
    """The liberal read: counts sent as numeric strings are taken too."""
    if not isinstance(data, dict) or not all(str(v).isdigit() for v in data.values()):
        raise ec.DecodeError(f"item {index}: not counts", status=status, body=body)
    return {key: int(value) for key, value in data.items()}


def _counts_reader() -> ArrayReader[dict[str, int]]:
    one = msgspec.json.Decoder(dict[str, int])
    many = msgspec.json.Decoder(list[dict[str, int]])
    return ArrayReader(one, many, _read_counts, "tallies", status=200)


async def _counts_outcome(body: bytes, cuts: list[int]) -> tuple[list[dict[str, int]], str | None]:
    seen: list[dict[str, int]] = []
    try:
        async for item in read_array(_chunked(body, cuts), _counts_reader()):
            seen.append(item)
    except ec.DecodeError as exc:
        return seen, str(exc)
    return seen, None


async def test_the_reader_serves_any_item_type() -> None:
    body = b'[{"a": 1}, {"b": "2", "c": 3}, {"d": 4}]'
    for cuts in ([], [5], list(range(1, len(body)))):
        assert await _counts_outcome(body, cuts) == ([{"a": 1}, {"b": 2, "c": 3}, {"d": 4}], None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'[{"a": 1}, {"b": "x"}]', "item 1: not counts"),
        (b'[{"a": 1}, 2]', "item 1: expected a JSON object, got number"),
        (b'[{"a": 1}', "body ended after 1 tallies"),
        (b'[{"a": 1}}', "invalid JSON after 1 tallies"),
    ],
)
async def test_the_reader_words_its_errors_with_the_item_name(body: bytes, reason: str) -> None:
    # [4, len - 1]: the error comes with item 0's end, and is raised at the next chunk.
    for cuts in ([], [4], [4, len(body) - 1], list(range(1, len(body)))):
        seen, error = await _counts_outcome(body, cuts)
        assert seen == [{"a": 1}]
        assert error is not None
        assert reason in error
