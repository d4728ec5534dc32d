"""The one converter: unset fields omitted, unknown fields tolerated, bad shapes -> DecodeError."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator

import attrs
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ecomcharge_async as ec
from ecomcharge_async._core.customers import CUSTOMER, NEW_CUSTOMER

decode_customer, decode_customer_list = CUSTOMER.decode, CUSTOMER.decode_list
decode_customer_stream, read_customer = CUSTOMER.decode_stream, CUSTOMER.read
encode_new_customer, _fast_customer = NEW_CUSTOMER.encode, CUSTOMER._one

text = st.text(max_size=40)
optional = st.none() | text
OPTIONAL_FIELDS = ("first_name", "last_name", "address", "city", "country", "zip", "state", "phone")

new_customers = st.builds(
    ec.NewCustomer, email=text, ip=text, **dict.fromkeys(OPTIONAL_FIELDS, optional)
)


@given(new_customers, st.text(min_size=1, max_size=20))
def test_round_trip_through_json(customer: ec.NewCustomer, customer_id: str) -> None:
    sent = json.loads(encode_new_customer(customer))
    assert None not in sent.values()
    assert sent == ec.converter.unstructure(customer)  # the fast encoder and the converter agree
    assert list(sent) == list(ec.converter.unstructure(customer))  # in field order
    # What the API echoes back (plus an id and a field it added later) decodes to the same data.
    echoed = {**sent, "id": customer_id, "loyalty_tier": {"added": "later"}}
    decoded = decode_customer(json.dumps(echoed).encode())
    assert attrs.asdict(decoded) == {"id": customer_id, **attrs.asdict(customer)}


def test_unset_fields_are_not_sent() -> None:
    body = encode_new_customer(ec.NewCustomer(email="a@example.com", ip="1.2.3.4", city="Minsk"))
    assert json.loads(body) == {"email": "a@example.com", "ip": "1.2.3.4", "city": "Minsk"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"city": "Minsk\udcff"}, "field 'city' is not valid Unicode text"),
        ({"phone": object()}, "field 'phone' should be a string, got object"),
    ],
)
def test_a_customer_json_cannot_carry_is_refused_naming_the_field(
    fields: dict[str, object], message: str
) -> None:
    customer = ec.NewCustomer(email="a@example.com", ip="1.2.3.4", **fields)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        encode_new_customer(customer)


def test_null_optional_fields_decode_to_none() -> None:
    customer = decode_customer(b'{"id":"cst_1","email":"e","ip":"i","city":null}')
    assert customer.city is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"<html>502</html>", "not valid JSON at byte 0 of 16"),
        (b'{"id": "cst_1", "email": "e"', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"id":"x","email":"\\ud800","ip":"i"}', "not valid JSON"),  # a lone surrogate
        (b"[]", "expected a JSON object, got array"),
        (b"null", "expected a JSON object, got null"),
        (b'"cst_1"', "expected a JSON object, got string"),
        (b'{"email":"e","ip":"i"}', "missing field 'id'"),
        (b'{"id":null,"email":"e","ip":"i"}', "field 'id' is null"),
        (b'{"id":["x"]}', "field 'id' should be a string, got array"),
        (b'{"id":"x","email":"e","ip":"i","zip":1e999}', "a number out of range"),
        (b'{"id":"x","email":"e","ip":"i","city":[]}', "'city' should be a string, got array"),
        (b'{"id":"x","email":"e","ip":"i","state":true}', "'state' should be a string, got bool"),
        (b'{"id":"x","email":"e","ip":"i","phone":{}}', "'phone' should be a string, got object"),
    ],
)  # fmt: skip
def test_bad_customer_bodies_raise_decode_error(body: bytes, reason: str) -> None:
    with pytest.raises(ec.DecodeError) as info:
        decode_customer(body, status=201)
    assert reason in str(info.value)
    assert info.value.status == 201
    assert len(str(info.value)) < 400


def test_list_decodes_every_item_and_names_the_bad_one() -> None:
    good = {"id": "cst_1", "email": "e", "ip": "i"}
    assert (
        decode_customer_list(json.dumps([good, good]).encode())
        == [ec.Customer(id="cst_1", email="e", ip="i")] * 2
    )
    with pytest.raises(ec.DecodeError, match="item 1: missing field 'id'"):
        decode_customer_list(json.dumps([good, {"email": "e", "ip": "i"}]).encode())
    with pytest.raises(ec.DecodeError, match="expected a JSON array, got object"):
        decode_customer_list(json.dumps(good).encode(), status=200)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=8))
def test_any_json_value_decodes_or_raises_decode_error(value: object) -> None:
    body = json.dumps(value).encode()
    for decode in (decode_customer, decode_customer_list):
        with contextlib.suppress(ec.DecodeError):
            decode(body)


async def _chunked(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(set(cuts)):
        yield body[start:cut]
        start = cut
    yield body[start:]


async def _collect(body: bytes, cuts: list[int]) -> list[ec.Customer]:
    return [c async for c in decode_customer_stream(_chunked(body, cuts), status=200)]


@given(
    st.lists(
        st.builds(
            ec.Customer, id=text, email=text, ip=text, **dict.fromkeys(OPTIONAL_FIELDS, optional)
        ),
        max_size=8,
    ),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
async def test_stream_decodes_like_the_whole_body_whatever_the_chunking(
    customers: list[ec.Customer], cuts: list[int]
) -> None:
    body = json.dumps([attrs.asdict(c) for c in customers], indent=1).encode()
    assert await _collect(body, cuts) == decode_customer_list(body) == customers


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


# -- the fast path (msgspec, in C) and the liberal path (cattrs) agree -----------------

FIELD_NAMES = [field.name for field in attrs.fields(ec.Customer)]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
field_values = st.one_of(st.text(max_size=12), st.none(), json_values)
customer_like = (
    st.dictionaries(st.sampled_from([*FIELD_NAMES, "extra", "plan"]), field_values, max_size=12)
    | json_values
)


def _liberal(data: object) -> ec.Customer | None:
    try:
        return read_customer(data)
    except ec.DecodeError:
        return None


def _fast(body: bytes) -> ec.Customer | None:
    try:
        return _fast_customer.decode(body)
    except msgspec.DecodeError:
        return None


@settings(max_examples=400)
@given(customer_like, st.booleans())
def test_the_fast_path_accepts_only_what_the_liberal_path_reads_alike(
    data: object, ascii_only: bool
) -> None:
    body = json.dumps(data, ensure_ascii=ascii_only).encode()
    fast, liberal = _fast(body), _liberal(json.loads(body))
    if fast is not None:
        assert liberal == fast  # same objects, field by field
    if liberal is None:
        assert fast is None  # and the same bodies refused
        with pytest.raises(ec.DecodeError):
            decode_customer(body)
    else:
        assert decode_customer(body) == liberal


@settings(max_examples=200)
@given(st.lists(customer_like, max_size=4))
def test_a_list_decodes_as_its_items_do_one_by_one(items: list[object]) -> None:
    body = json.dumps(items).encode()
    read = [_liberal(item) for item in items]
    if None in read:
        bad = read.index(None)
        with pytest.raises(ec.DecodeError, match=f"item {bad}: "):
            decode_customer_list(body)
    else:
        assert decode_customer_list(body) == read


def test_documented_customers_take_the_fast_path() -> None:
    body = json.dumps({"id": "cst_1", "email": "e", "ip": "i", "zip": "92006"}).encode()
    assert (
        _fast(body)
        == decode_customer(body)
        == ec.Customer(id="cst_1", email="e", ip="i", zip="92006")
    )
    odd = json.dumps({"id": "cst_1", "zip": 92006}).encode()
    assert _fast(odd) is None  # read by the liberal path instead
    assert decode_customer(odd) == ec.Customer(id="cst_1", zip="92006")


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
