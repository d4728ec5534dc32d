"""The documented validation rules, as a table of valid and invalid inputs."""

from __future__ import annotations

import pytest

from ecomcharge_async._rules import COUNTRIES, error_message, validate_customer

BASE = {"email": "customer@example.com", "ip": "127.0.0.1"}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"ip": "::1"},
        {"ip": "2001:db8::1"},
        {"email": "first.last+tag@sub.example.co.uk"},
        {"country": "DE"},
        {"country": "DE", "zip": "10115"},
        {"country": "GB", "zip": "SW1A 1AA"},
        {"country": "US", "state": "CO", "zip": "92006"},
        {"country": "US", "state": "NY", "zip": "10001-1234"},
        {"country": "CA", "state": "ON", "zip": "K1A 0B1"},
        {"state": "CO"},
        {"first_name": "Zoë", "last_name": "O'Brien", "phone": "+1-555-555-5555"},
        {"city": None, "address": None},
        {"unknown_field": 42},
        # Where the API doc is silent (docs/contract.md): null is absent, free text is
        # stored as sent, blank included; a zip has a format only in the US.
        {"country": None, "state": None, "zip": None, "phone": None},
        {"first_name": "", "last_name": "   ", "address": " 1st Street ", "phone": ""},
        {"country": "DE", "zip": ""},
        {"country": "US", "state": "CO", "zip": None},
    ],
)
def test_valid_customers(changes: dict[str, object]) -> None:
    assert validate_customer({**BASE, **changes}) == {}


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"ip": None}, {"ip": ["address is invalid", "can't be blank"]}),
        ({"ip": ""}, {"ip": ["address is invalid", "can't be blank"]}),
        ({"ip": "   "}, {"ip": ["address is invalid", "can't be blank"]}),
        ({"ip": "256.1.1.1"}, {"ip": ["address is invalid"]}),
        ({"ip": "localhost"}, {"ip": ["address is invalid"]}),
        ({"email": None}, {"email": ["can't be blank"]}),
        ({"email": ""}, {"email": ["can't be blank"]}),
        ({"email": "no-at-sign"}, {"email": ["is invalid"]}),
        ({"email": "a@b"}, {"email": ["is invalid"]}),
        ({"email": "a b@example.com"}, {"email": ["is invalid"]}),
        ({"email": 5}, {"email": ["must be a string"]}),
        ({"country": "XX"}, {"country": ["is invalid"]}),
        ({"country": "us"}, {"country": ["is invalid"]}),
        ({"country": "USA"}, {"country": ["is invalid"]}),
        ({"country": "US", "state": "CO", "zip": "9200"}, {"zip": ["is invalid"]}),
        ({"country": "US", "state": "CO", "zip": "92006-12"}, {"zip": ["is invalid"]}),
        ({"country": "US", "state": "CO", "zip": "ABCDE"}, {"zip": ["is invalid"]}),
        ({"country": "US"}, {"state": ["can't be blank"]}),
        ({"country": "CA", "state": ""}, {"state": ["can't be blank"]}),
        ({"state": "Colorado"}, {"state": ["is invalid"]}),
        ({"state": "co"}, {"state": ["is invalid"]}),
        ({"zip": 92006}, {"zip": ["must be a string"]}),
        # Blank is no country, state or US zip; nothing is trimmed; `$` is the end.
        ({"country": "US", "state": "CO", "zip": ""}, {"zip": ["is invalid"]}),
        ({"country": "US", "state": "CO", "zip": "   "}, {"zip": ["is invalid"]}),
        ({"country": "US", "state": "CO", "zip": "92006\n"}, {"zip": ["is invalid"]}),
        (
            {"country": "US", "state": "CO", "zip": "\u0669\u0662\u0660\u0660\u0666"},
            {"zip": ["is invalid"]},
        ),
        ({"country": ""}, {"country": ["is invalid"]}),
        ({"country": " DE"}, {"country": ["is invalid"]}),
        ({"state": ""}, {"state": ["is invalid"]}),
        ({"state": "CO\n"}, {"state": ["is invalid"]}),
        ({"country": "US", "state": "  "}, {"state": ["can't be blank"]}),
        ({"country": "CA", "state": None}, {"state": ["can't be blank"]}),
        ({"email": "   "}, {"email": ["can't be blank"]}),
        ({"email": " customer@example.com"}, {"email": ["is invalid"]}),
        ({"email": "customer@example.com\n"}, {"email": ["is invalid"]}),
        ({"ip": " ::1"}, {"ip": ["address is invalid"]}),
        ({"ip": "fe80::1%eth0"}, {"ip": ["address is invalid"]}),
        (
            {"email": "", "ip": "", "country": "ZZ"},
            {
                "email": ["can't be blank"],
                "ip": ["address is invalid", "can't be blank"],
                "country": ["is invalid"],
            },
        ),
    ],
)
def test_invalid_customers(changes: dict[str, object], errors: dict[str, list[str]]) -> None:
    assert validate_customer({**BASE, **changes}) == errors


def test_the_documented_invalid_request() -> None:
    request = {
        "city": "Denver",
        "zip": "92006",
        "state": "CO",
        "phone": "+1-555-555-5555",
        "email": "customer@example.com",
    }
    errors = validate_customer(request)
    assert errors == {"ip": ["address is invalid", "can't be blank"]}
    assert error_message(errors) == "Ip address is invalid. Ip can't be blank"


def test_message_labels_multiword_fields() -> None:
    assert error_message({"first_name": ["is invalid"]}) == "First name is invalid"


def test_base_errors_are_whole_sentences_in_the_message() -> None:
    errors = {"base": ["Body is not valid JSON"], "ip": ["can't be blank"]}
    assert error_message(errors) == "Body is not valid JSON. Ip can't be blank"


def test_country_list_is_iso_3166_alpha_2() -> None:
    assert len(COUNTRIES) == 249
    assert {"US", "CA", "DE", "BY", "GB", "SS", "XK"} - COUNTRIES == {"XK"}  # XK is user-assigned
