"""The public converter reads liberally: nulls, missing fields, numbers for strings, unknowns."""

from __future__ import annotations

import math

import pytest

import ecomcharge_async as ec
from ecomcharge_async._serde import converter as converter_module


def test_the_public_converter_is_the_one_the_codecs_use() -> None:
    assert ec.converter is converter_module.converter


def test_a_customer_is_read_liberally() -> None:
    data = {"id": 7, "email": None, "zip": 92006, "phone": 1.5, "loyalty": {"tier": "gold"}}
    assert ec.converter.structure(data, ec.Customer) == ec.Customer(
        id="7", zip="92006", phone="1.5"
    )


class Text(str):
    """A str subclass, as a user's own structure() call may hand in."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x"), (0, "0"), (-12, "-12"), (2.5, "2.5"), (Text("t"), "t"), (None, None)],
)
def test_optional_strings_take_text_numbers_and_null(value: object, expected: str | None) -> None:
    read = ec.converter.structure({"id": "c", "city": value}, ec.Customer)
    assert read.city == expected
    assert type(read.city) in (str, type(None))


@pytest.mark.parametrize(
    ("value", "json_name"),
    [(True, "boolean"), ([], "array"), ({}, "object"), (math.inf, "number"), (math.nan, "number")],
)
def test_what_is_not_text_is_refused_by_its_json_type(value: object, json_name: str) -> None:
    with pytest.raises(TypeError, match=f"expected a string, got {json_name}"):
        ec.converter.structure({"id": value}, ec.Customer)
    with pytest.raises(TypeError, match=f"expected a string, got {json_name}"):
        ec.converter.structure({"id": "c", "state": value}, ec.Customer)


def test_new_customers_unstructure_without_unset_fields_customers_with_them() -> None:
    new = ec.NewCustomer(email="a@example.com", ip="127.0.0.1", city="Minsk")
    assert ec.converter.unstructure(new) == {
        "email": "a@example.com",
        "ip": "127.0.0.1",
        "city": "Minsk",
    }
    customer = ec.converter.unstructure(ec.Customer(id="c", city="Minsk"))
    assert customer["city"] == "Minsk"
    assert customer["email"] is None  # every field, as attrs.asdict gives
    assert ec.converter.structure(customer, ec.Customer) == ec.Customer(id="c", city="Minsk")
