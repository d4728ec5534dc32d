"""Why a body could not be read, or a model sent: position, field, JSON type; never the data."""

from __future__ import annotations

import msgspec
import pytest

import ecomcharge_async as ec
from ecomcharge_async._serde.explain import (
    failure,
    json_type,
    malformed,
    unencodable,
    unreadable,
)

PERSONAL = "jane.doe@example.com"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ({}, "object"),
        ([], "array"),
        ("", "string"),
        (True, "boolean"),
        (None, "null"),
        (1, "number"),
        (1.5, "number"),
        (object(), "value"),
    ],
)
def test_json_type_names_a_decoded_value(value: object, name: str) -> None:
    assert json_type(value) == name


def _malformed(body: bytes) -> str:
    with pytest.raises(msgspec.DecodeError) as info:
        msgspec.json.decode(body)
    return malformed(info.value, body)


def test_malformed_bodies_are_told_by_position_and_size() -> None:
    assert _malformed(b" \n") == "empty body"
    assert (
        _malformed(b'{"email": "' + PERSONAL.encode() + b'" x}')
        == "not valid JSON at byte 33 of 35"
    )
    assert _malformed(b'{"email": "' + PERSONAL.encode()) == (
        "not valid JSON: the body of 31 bytes ends too early"
    )
    assert _malformed(b"[1e999]") == "a number out of range in a body of 7 bytes"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([PERSONAL], "expected a JSON object, got array"),
        ({"email": PERSONAL}, "missing field 'id'"),
        ({"id": None, "email": PERSONAL}, "field 'id' is null"),
        ({"id": "c", "email": [PERSONAL]}, "field 'email' should be a string, got array"),
        (
            {"id": "c", "email": {"address": PERSONAL}},
            "field 'email' should be a string, got object",
        ),
    ],
)
def test_unreadable_names_the_field_and_type_never_the_value(data: object, reason: str) -> None:
    message = unreadable(ec.Customer, data, ec.converter)
    assert message == reason
    assert "jane" not in message


def test_unencodable_names_the_field_json_cannot_carry() -> None:
    surrogate = ec.NewCustomer(email=PERSONAL, ip="127.0.0.1", city="Minsk\udcff")
    assert unencodable(surrogate) == (
        "field 'city' is not valid Unicode text (it holds a lone surrogate)"
    )
    odd = ec.NewCustomer(email=PERSONAL, ip="127.0.0.1", phone=1j)  # type: ignore[arg-type]
    assert unencodable(odd) == "field 'phone' should be a string, got complex"


def test_a_failure_keeps_the_body_off_the_message_and_on_the_error() -> None:
    body = b'{"email": "' + PERSONAL.encode() + b'"}'
    error = failure("missing field 'id'", 201, body, {"x-request-id": "req_1"})
    assert isinstance(error, ec.DecodeError)
    assert (error.status, error.body, error.request_id) == (201, body, "req_1")
    assert "jane" not in str(error)
    assert failure("empty body", None, b"", None).request_id is None
