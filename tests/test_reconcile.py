"""The pure decisions of bulk import: what a failed create means, which customers match,
and how each held row is settled."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ecomcharge_async as ec
from ecomcharge_async._core.retry import is_retryable
from ecomcharge_async.bulk._reconcile import (
    ShopMatcher,
    classify,
    customer_hash,
    customer_key,
    key_hash,
    match_customers,
)


def person(n: int) -> ec.NewCustomer:
    return ec.NewCustomer(email=f"user{n}@example.com", ip=f"10.0.0.{n}")


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (ec.ConnectError("refused"), "retry"),
        (ec.RateLimitError(429, "slow down"), "retry"),
        (ec.APIError(408, "request timeout"), "retry"),
        (ec.ServerError(503, "unavailable"), "retry"),
        (ec.APIConnectionError("reset"), "unclear"),
        (ec.APITimeoutError("timeout"), "unclear"),
        (ec.ServerError(500, "oops"), "unclear"),
        (ec.ServerError(502, "bad gateway"), "unclear"),
        (ec.ServerError(504, "gateway timeout"), "unclear"),
        (ec.DecodeError("not JSON", status=201), "unclear"),
        (ec.AuthenticationError(401, "no"), "fatal"),
        (ec.ValidationError(422, "invalid"), "final"),
        (ec.NotFoundError(404, "no such endpoint"), "final"),
        (ec.APIError(413, "too large"), "final"),
    ],
)
def test_classify(error: ec.EcomChargeError, verdict: str) -> None:
    assert classify(error) == verdict
    # One verdict: the client's own retries agree with the import on what may be resent.
    if not isinstance(error, ec.DecodeError | ec.AuthenticationError):
        assert is_retryable("POST", error) is (verdict == "retry")
        assert is_retryable("GET", error) is (verdict in ("retry", "unclear"))


def test_matching_claims_each_customer_once() -> None:
    a, b = person(1), person(2)
    shop = [
        ec.Customer(id="cst_1", **_fields(a)),
        ec.Customer(id="cst_2", **_fields(b)),
        ec.Customer(id="cst_3", **_fields(a)),
        ec.Customer(id="cst_4", **_fields(a)),
    ]
    found = match_customers({customer_key(a): 2, customer_key(person(3)): 1}, shop)
    assert found == {customer_key(a): ["cst_1", "cst_3"]}


def test_matching_tolerates_an_api_that_normalises_what_it_stores() -> None:
    sent = ec.NewCustomer(email="Ann@Example.com", ip="10.0.0.1", city="", country="us")
    stored = ec.Customer(id="cst_1", email=" ann@example.com", ip="10.0.0.1", country="US")
    assert match_customers({customer_key(sent): 1}, [stored]) == {customer_key(sent): ["cst_1"]}
    other = ec.Customer(id="cst_2", email="ann@example.com", ip="10.0.0.2", country="US")
    assert match_customers({customer_key(sent): 1}, [other]) == {}


def _fields(customer: ec.NewCustomer) -> dict[str, str | None]:
    return {"email": customer.email, "ip": customer.ip}


def test_the_key_hash_is_short_and_stable() -> None:
    key = customer_key(person(1))
    assert key_hash(key) == key_hash(customer_key(person(1)))
    assert len(key_hash(key)) == 16
    assert key_hash(key) != key_hash(customer_key(person(2)))


@pytest.mark.parametrize(
    "key",
    [
        ("a@example.com", "10.0.0.1", None, None, None, None, None, None, None, None),
        ('quote"back\\slash@example.com', "::1", "zoë", "李", "tab\tnew\nline", "😀"),
        (),
    ],
)
def test_the_key_hash_is_sha256_of_the_keys_json_as_journals_already_hold_it(
    key: tuple[str | None, ...],
) -> None:
    # Journals written before match rows by this hash: its input must stay json.dumps(key).
    assert key_hash(key) == hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    "customer",
    [
        ec.NewCustomer(email="a@example.com", ip="10.0.0.1"),
        ec.NewCustomer(email="  MiXeD@Example.COM ", ip=" ::1", first_name="", city="   "),
        ec.NewCustomer(
            email='quote"back\\slash@example.com',
            ip="::1",
            first_name="Zoë",
            last_name="李",
            address="tab\tnew\nline",
            phone="😀",
            state="ß",
        ),
        ec.NewCustomer(email="", ip=""),
    ],
)
def test_a_rows_journal_hash_is_its_keys_hash(customer: ec.NewCustomer) -> None:
    assert customer_hash(customer) == key_hash(customer_key(customer))


# Field values as rows bring them: odd case and whitespace (Unicode's too), quotes,
# backslashes, control characters, letters whose case-folding grows (ß, ŉ, ﬁ), emoji.
_pieces = st.sampled_from(
    [" ", "\t", "\n", "\u00a0", "\u2003", "\x1f", "\x00", "\x7f", '"', "\\", "ß", "ŉ", "ﬁ",
     "İ", "Σ", "ς", "😀", "\u2028", "MiXeD", "a", "Z", "0", "@", "null"]
)  # fmt: skip
_values = st.none() | st.text(max_size=12) | st.lists(_pieces, max_size=6).map("".join)
_NAMES = [field.name for field in attrs.fields(ec.NewCustomer)]


@settings(deadline=None)  # a busy machine may stall one example
@given(st.lists(_values, min_size=len(_NAMES), max_size=len(_NAMES)))
def test_a_rows_journal_hash_is_sha256_of_its_normalised_fields_json(
    values: list[str | None],
) -> None:
    fields = dict(zip(_NAMES, values, strict=True))
    customer = ec.NewCustomer(**fields)  # type: ignore[arg-type]
    # The definition journals on disk were written with, kept here as the reference.
    key = [(value.strip().casefold() or None) if value else None for value in values]
    expected = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    assert customer_hash(customer) == key_hash(customer_key(customer)) == expected


A, B = person(1), person(2)


def customer(id: str, row: ec.NewCustomer = A) -> ec.Customer:
    return ec.Customer(id=id, **_fields(row))


@pytest.mark.parametrize(
    ("held", "shop", "created", "settled"),
    [
        # Nothing identical in the shop: the create did not land, send it again.
        ([A], [], set(), [("absent", None)]),
        ([A], [customer("x", B)], set(), [("absent", None)]),
        # An identical customer nobody claimed: the row's own create landed.
        ([A], [customer("x")], set(), [("found", "x")]),
        # The only identical customer is one this import created for another row.
        ([A], [customer("x")], {"x"}, [("ambiguous", "x")]),
        # The twin's customer and the row's own: the row gets its own.
        ([A], [customer("x"), customer("y")], {"x"}, [("found", "y")]),
        ([A], [customer("y"), customer("x")], {"x"}, [("found", "y")]),
        # Two held twins, one stored customer: one-to-one, the other did not land.
        ([A, A], [customer("y")], set(), [("found", "y"), ("absent", None)]),
        # ... unless another row's customer is there too: then it is ambiguous.
        ([A, A], [customer("x"), customer("y")], {"x"}, [("found", "y"), ("ambiguous", "x")]),
        ([A, A], [customer("y"), customer("z")], set(), [("found", "y"), ("found", "z")]),
        # Rows of different keys do not interfere.
        ([A, B], [customer("x"), customer("b", B)], {"x"}, [("ambiguous", "x"), ("found", "b")]),
    ],
)
def test_claim_settles_each_held_row(
    held: list[ec.NewCustomer],
    shop: list[ec.Customer],
    created: set[str],
    settled: list[tuple[str, str | None]],
) -> None:
    keys = [customer_key(row) for row in held]
    matcher = ShopMatcher(Counter(keys), created)
    for one in shop:
        matcher.offer(one)
    assert [matcher.claim(key) for key in keys] == settled


def test_matching_skips_customers_the_import_created_for_other_rows() -> None:
    shop = [customer("cst_1"), customer("cst_2"), customer("cst_3")]
    found = match_customers({customer_key(A): 2}, shop, created={"cst_1"})
    assert found == {customer_key(A): ["cst_2", "cst_3"]}
