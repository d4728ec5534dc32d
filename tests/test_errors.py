"""error_from_response maps every answer to the right class, with a bounded message."""

from __future__ import annotations

import json

import pytest

import ecomcharge_async as ec
from ecomcharge_async._core.errors import error_from_response, parse_retry_after, shorten


def response(status: int, body: bytes | str | dict[str, object], **headers: str) -> ec.Response:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    raw = raw.encode() if isinstance(raw, str) else raw
    return ec.Response(status=status, headers=headers, body=raw)


HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (401, {"message": "Invalid shop_id/secret_key."}, ec.AuthenticationError,
         "Invalid shop_id/secret_key."),
        (401, {"response": {"status": "error", "message": "Access denied"}},
         ec.AuthenticationError, "Access denied"),
        (401, b"", ec.AuthenticationError, "authentication failed"),
        (404, {"message": "Customer not found"}, ec.NotFoundError, "Customer not found"),
        (404, b"Not Found", ec.NotFoundError, "not found (a body of 9 bytes, not a JSON object)"),
        (429, {"message": "slow down"}, ec.RateLimitError, "slow down"),
        (500, {"message": "boom"}, ec.ServerError, "boom"),
        (502, HTML_502, ec.ServerError, "HTTP 502 (a body of 74 bytes, not a JSON object)"),
        (503, b"", ec.ServerError, "HTTP 503"),
        (400, {"message": "Malformed JSON body"}, ec.APIError, "Malformed JSON body"),
        (409, {"unexpected": True}, ec.APIError, "HTTP 409"),
        (418, b"[1, 2]", ec.APIError, "HTTP 418"),
    ],
)  # fmt: skip
def test_status_maps_to_class_and_message(
    status: int, body: bytes | str | dict[str, object], cls: type[ec.APIError], message: str
) -> None:
    error = error_from_response(response(status, body))
    assert type(error) is cls
    assert error.status == status
    assert error.message.startswith(message)
    assert str(error).startswith(f"{status}: ")


def test_validation_error_keeps_documented_errors_as_sent() -> None:
    body = {
        "message": "Ip address is invalid. Ip can't be blank",
        "errors": {"ip": ["address is invalid", "can't be blank"], "base": ["Base error"]},
    }
    error = error_from_response(response(422, body))
    assert isinstance(error, ec.ValidationError)
    assert error.errors == body["errors"]
    assert error.message == "Ip address is invalid. Ip can't be blank"


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ({"email": "is invalid"}, {"email": ["is invalid"]}),
        ({"email": ["is invalid", 3]}, {"email": ["is invalid", "3"]}),
        ({"plan": {"base": ["is invalid"]}}, {"plan.base": ["is invalid"]}),
        ({"email": None, "ip": True, "zip": [{"x": 1}, None]}, {}),
        ({"email": [], "ip": ["blank"]}, {"ip": ["blank"]}),
        (
            {"customer": {"ip": ["is invalid"], "email": "is taken"}},
            {"customer.ip": ["is invalid"], "customer.email": ["is taken"]},
        ),
        (
            ["Currency is invalid", "Plan expired"],
            {"base": ["Currency is invalid", "Plan expired"]},
        ),
        ("Currency is invalid", {"base": ["Currency is invalid"]}),
        (["Currency is invalid", None, {"x": 1}], {"base": ["Currency is invalid"]}),
        ({"base": ["a"], "plan": {"base": ["b"]}}, {"base": ["a"], "plan.base": ["b"]}),
        ({"plan": {"base": "b"}, "plan.base": ["c"]}, {"plan.base": ["b", "c"]}),
        (None, {}),
    ],
)
def test_validation_errors_are_always_lists_of_strings(
    errors: object, expected: dict[str, list[str]]
) -> None:
    raw = json.dumps({"message": "bad", "errors": errors}).encode()
    error = error_from_response(response(422, raw))
    assert isinstance(error, ec.ValidationError)
    assert error.errors == expected
    assert error.body == raw  # the body as sent, whatever was read of it
    for field, messages in error.errors.items():
        assert isinstance(field, str)
        assert all(isinstance(message, str) for message in messages)


def test_validation_message_falls_back_to_the_field_errors() -> None:
    body = {"errors": {"email": "is invalid", "ip": ["can't be blank"], "base": ["Plan expired"]}}
    error = error_from_response(response(422, body))
    assert error.message == "email is invalid; ip can't be blank; Plan expired"
    error = error_from_response(response(422, {"errors": {}}))
    assert error.message == "invalid parameters"


def test_validation_error_without_errors_map_is_still_a_validation_error() -> None:
    error = error_from_response(response(422, HTML_502, **{"Content-Type": "text/html"}))
    assert isinstance(error, ec.ValidationError)
    assert error.errors == {}
    assert error.message == "invalid parameters (text/html body of 74 bytes, not a JSON object)"
    assert error.body == HTML_502.encode()
    error = error_from_response(response(422, {"errors": ["Currency is invalid"]}))
    assert isinstance(error, ec.ValidationError)
    assert error.errors == {"base": ["Currency is invalid"]}
    # Never lost, but not quoted either: free text in place of the field map may
    # echo a customer's data, which no message holds.
    assert error.message == "invalid parameters (see .errors)"


PLATFORM_401 = {
    "error": {
        "code": "unauthorized",
        "friendly_message": "You can't have access to this area",
        "help": "https://docs.example.com/errors#unauthorized",
        "message": "Unauthorized",
    }
}


def test_the_platforms_error_object_gives_message_code_and_help_url() -> None:
    error = error_from_response(response(401, PLATFORM_401, **{"X-Request-Id": "r-7"}))
    assert type(error) is ec.AuthenticationError
    assert error.message == "Unauthorized: You can't have access to this area"
    assert str(error) == "401: Unauthorized: You can't have access to this area (request id r-7)"
    assert error.code == "unauthorized"
    assert error.help_url == "https://docs.example.com/errors#unauthorized"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, ec.APIError), (403, ec.APIError), (404, ec.NotFoundError), (422, ec.ValidationError),
     (429, ec.RateLimitError), (500, ec.ServerError), (503, ec.ServerError)],
)  # fmt: skip
def test_the_platforms_error_object_is_read_for_every_status(
    status: int, cls: type[ec.APIError]
) -> None:
    body = {"error": {"code": "c-1", "message": "Refused", "help": "https://h.example/1"}}
    error = error_from_response(response(status, body))
    assert type(error) is cls
    assert (error.message, error.code, error.help_url) == ("Refused", "c-1", "https://h.example/1")


@pytest.mark.parametrize(
    ("body", "message", "code", "help_url"),
    [
        ({"message": "Top", "error": {"message": "Inner", "code": "x"}}, "Top", "x", None),
        ({"error": {"friendly_message": "Try later"}}, "Try later", None, None),
        ({"error": {"message": "Same", "friendly_message": "Same"}}, "Same", None, None),
        ({"error": "Unauthorized"}, "Unauthorized", None, None),
        ({"error": {"code": 7, "help": ["x"], "message": ""}}, "authentication failed", None, None),
        ({"error": {"code": "a\nb", "message": "m\r\nX-Evil: 1"}}, "m X-Evil: 1", "a b", None),
        ({}, "authentication failed", None, None),
    ],
)
def test_the_platforms_error_object_is_read_liberally(
    body: dict[str, object], message: str, code: str | None, help_url: str | None
) -> None:
    error = error_from_response(response(401, body))
    assert (error.message, error.code, error.help_url) == (message, code, help_url)


def test_errors_made_by_hand_have_no_code_or_help_url() -> None:
    error = ec.APIError(400, "bad")
    assert (error.code, error.help_url, error.request_id) == (None, None, None)
    made = ec.ValidationError(422, "bad", code="invalid", help_url="https://h.example")
    assert (made.code, made.help_url, made.errors) == ("invalid", "https://h.example", {})


def test_rate_limit_reads_retry_after() -> None:
    error = error_from_response(response(429, b"", **{"retry-after": "7"}))
    assert isinstance(error, ec.RateLimitError)
    assert error.retry_after == 7.0
    assert error_from_response(response(429, b"")).retry_after is None  # type: ignore[attr-defined]


def test_messages_stay_short_for_huge_bodies() -> None:
    huge = {"message": "x" * 100_000}
    assert len(str(error_from_response(response(400, huge)))) < 300
    assert len(str(error_from_response(response(502, "<p>" * 100_000)))) < 300


def test_error_keeps_body_and_headers() -> None:
    error = error_from_response(response(503, b"down", **{"Retry-After": "3"}))
    assert error.body == b"down"
    assert error.headers == {"Retry-After": "3"}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),  # relative to now=60
        ("Thu, 01 Jan 1970 00:01:40", None),  # no zone: ambiguous
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=60.0 if value and "1970" in value else None) == seconds


def test_shorten_is_printable_and_bounded() -> None:
    assert shorten("\x1b[31m a \n b") == "\ufffd[31m a b"
    assert len(shorten("y" * 10_000)) == 200


def test_decode_error_message_names_status_and_keeps_the_body_off_it() -> None:
    error = ec.DecodeError("not valid JSON", status=201, body=b"<html>", request_id="r-1")
    assert str(error) == "201 response did not decode: not valid JSON (request id r-1)"
    assert error.body == b"<html>"
    assert error.request_id == "r-1"
    assert str(ec.DecodeError("bad")) == "response did not decode: bad"


@pytest.mark.parametrize("name", ["X-Request-Id", "x-request-id", "X-REQUEST-ID"])
def test_api_errors_carry_the_request_id_in_attribute_and_message(name: str) -> None:
    error = error_from_response(
        response(404, {"message": "Customer not found"}, **{name: "req-42"})
    )
    assert error.request_id == "req-42"
    assert str(error) == "404: Customer not found (request id req-42)"
    error = error_from_response(response(422, {"errors": {"ip": ["blank"]}}, **{name: "r\n9"}))
    assert error.request_id == "r 9"  # one printable line, whatever the header held


def test_api_errors_without_a_request_id_say_none() -> None:
    error = error_from_response(response(500, {"message": "boom"}))
    assert error.request_id is None
    assert str(error) == "500: boom"


def test_transport_errors_are_plain_to_construct() -> None:
    assert str(ec.ConnectError("refused")) == "refused"
    assert isinstance(ec.ConnectError("x"), ec.APIConnectionError)
    assert isinstance(ec.APITimeoutError("x"), ec.APIConnectionError)
    proxy = ec.ProxyError("proxy 127.0.0.1:3128 refused the connection")
    assert isinstance(proxy, ec.ConnectError)
    assert str(proxy) == "proxy 127.0.0.1:3128 refused the connection"
    assert ec.APIConnectionError("x").attempts == 1
