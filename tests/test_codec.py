"""A codec per model: unset fields not sent, unknown ones ignored, bad shapes -> DecodeError.

The customer codecs as the client uses them, and a second model's codec made
the same way from its attrs class alone.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator

import attrs
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import customer_like, new_customers

import ecomcharge_async as ec
from ecomcharge_async._core.customers import CUSTOMER, NEW_CUSTOMER
from ecomcharge_async._serde.codec import Codec

decode_customer, decode_customer_list = CUSTOMER.decode, CUSTOMER.decode_list
encode_new_customer, read_customer = NEW_CUSTOMER.encode, CUSTOMER.read
FAST = msgspec.json.Decoder(ec.Customer)  # what the codec's fast path is made of


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
    with pytest.raises(ec.DecodeError, match="item 1: a number out of range"):
        decode_customer_list(b'[{"id": "cst_1"}, {"id": "cst_2", "zip": 1e999}]')
    with pytest.raises(ec.DecodeError, match="expected a JSON array, got object"):
        decode_customer_list(json.dumps(good).encode(), status=200)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=8))
def test_any_json_value_decodes_or_raises_decode_error(value: object) -> None:
    body = json.dumps(value).encode()
    for decode in (decode_customer, decode_customer_list):
        with contextlib.suppress(ec.DecodeError):
            decode(body)


# -- the fast path (msgspec, in C) and the liberal path (cattrs) agree -----------------


def _liberal(data: object) -> ec.Customer | None:
    try:
        return read_customer(data)
    except ec.DecodeError:
        return None


def _fast(body: bytes) -> ec.Customer | None:
    try:
        return FAST.decode(body)
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


# -- a second model: its codec made from its attrs class, nothing else -----------------


@attrs.frozen(kw_only=True)
class Plan:
    id: str
    title: str | None = None
    amount: int | None = None
    tags: list[str] = attrs.Factory(list)


@attrs.frozen
class Tag:
    name: str


PLAN = Codec(Plan)


def test_a_second_model_encodes_without_its_defaults() -> None:
    assert json.loads(PLAN.encode(Plan(id="p1", title="Gold"))) == {"id": "p1", "title": "Gold"}
    full = Plan(id="p1", amount=900, tags=["monthly"])
    assert json.loads(PLAN.encode(full)) == {"id": "p1", "amount": 900, "tags": ["monthly"]}
    assert Codec(Tag).encode(Tag("vip")) == b'{"name":"vip"}'  # one field: still an object
    with pytest.raises(ValueError, match="cannot send the plan: field 'title' should be a string"):
        PLAN.encode(Plan(id="p1", title=object()))  # type: ignore[arg-type]


async def test_a_second_model_decodes_one_a_list_and_a_stream() -> None:
    documented = {"id": "p1", "title": "Gold", "amount": 900, "tags": ["monthly"]}
    liberal = {"id": 2, "title": 5, "amount": "300", "unknown": {"x": 1}}
    body = json.dumps([documented, liberal]).encode()
    expected = [Plan(id="p1", title="Gold", amount=900, tags=["monthly"])]
    expected.append(Plan(id="2", title="5", amount=300))
    assert PLAN.decode(json.dumps(liberal).encode()) == expected[1]
    assert PLAN.decode_list(body) == expected

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:30]
        yield body[30:]

    assert [plan async for plan in PLAN.decode_stream(chunks(), status=200)] == expected
    assert PLAN.read(liberal) == expected[1]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"title": "Gold"}', "missing field 'id'"),
        (b'{"id": "p1", "amount": "lots"}', "field 'amount' should be an integer, got string"),
        (b'{"id": "p1", "title": ["Gold"]}', "field 'title' should be a string, got array"),
    ],
)
async def test_a_second_model_names_what_it_cannot_read(body: bytes, reason: str) -> None:
    with pytest.raises(ec.DecodeError, match=reason):
        PLAN.decode(body)
    with pytest.raises(ec.DecodeError, match=f"item 1: {reason}"):
        PLAN.decode_list(b'[{"id": "p0"}, ' + body + b"]")

    async def cut() -> AsyncIterator[bytes]:
        yield b'[{"id": "p0"}, {"id": "p1"'

    with pytest.raises(ec.DecodeError, match="body ended after 1 plans"):
        _ = [plan async for plan in PLAN.decode_stream(cut())]


def test_cattrs_is_imported_only_when_a_body_needs_the_converter() -> None:
    # Documented bodies decode in C; the import command starts without cattrs.
    code = (
        "import sys\n"
        "from ecomcharge_async import Client, bulk\n"
        "from ecomcharge_async.cli import main\n"
        "from ecomcharge_async._core.customers import CUSTOMER\n"
        'CUSTOMER.decode(b\'{"id": "cst_1", "email": "a@example.com"}\')\n'
        "print('cattrs' in sys.modules)\n"
        'CUSTOMER.decode(b\'{"id": "cst_1", "zip": 92006}\')  # a number: the liberal path\n'
        "print('cattrs' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "True"]
