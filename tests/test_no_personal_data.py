"""No error message quotes a response: bodies hold customer data (issue "Ready for the real API").

Every decode failure and every error status is driven through the public client
with a body carrying a sentinel e-mail address; `str()` and `repr()` of the
error must not contain it, and the body must still be on `.body` for whoever
chooses to log it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

import ecomcharge_async as ec

SENTINEL = "sentinel.person@example.com"
S = SENTINEL.encode()
GOOD = b'{"id":"cst_1","email":"' + S + b'","ip":"::1"}'

# Bodies of a 2xx that cannot be read as one customer.
BAD_OBJECTS = {
    "html": b"<html><p>" + S + b"</p></html>",
    "truncated": b'{"id":"cst_1","email":"' + S + b'"',
    "trailing": GOOD + b" " + S,
    "no-id": b'{"email":"' + S + b'"}',
    "null-id": b'{"id":null,"email":"' + S + b'"}',
    "object-in-string": b'{"id":"x","email":{"v":"' + S + b'"}}',
    "array-id": b'{"id":["' + S + b'"]}',
    "boolean": b'{"id":"x","email":"' + S + b'","state":true}',
    "out-of-range": b'{"id":"x","email":"' + S + b'","zip":1e999}',
    "nested": b"[" * 5000 + b'"' + S + b'"',
    "not-utf8": b'{"id":"x","email":"' + S + b'\xff"}',
    "string": b'"' + S + b'"',
}
# Bodies of a 2xx that cannot be read as a list of customers.
BAD_LISTS = {
    "object": GOOD,
    "html": b"<html>" + S,
    "cut": b"[" + GOOD + b',{"id":"cst_2","email":"' + S,
    **{f"item-{name}": b"[" + GOOD + b"," + body + b"]" for name, body in BAD_OBJECTS.items()},
}
# Error statuses whose bodies echo customer data outside the API's own message.
ERROR_BODIES = {
    "html": b"<html><body>" + S + b"</body></html>",
    "echo": b'{"customer":{"email":"' + S + b'"}}',
    "errors-not-a-map": b'{"errors":"' + S + b'"}',
    "errors-a-list": b'{"errors":["' + S + b'"]}',
    "text": S,
}
STATUSES = [400, 401, 404, 409, 422, 429, 500, 502, 503]


class Answer:
    """A transport that answers every request with one status and body, streamed in pieces."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def _response(self, chunks: AsyncIterator[bytes] | None = None) -> ec.Response:
        headers = {"Content-Type": "application/json", "X-Request-Id": "req-7"}
        return ec.Response(status=self.status, headers=headers, body=self.body, chunks=chunks)

    async def send(self, request: ec.Request) -> ec.Response:
        return self._response()

    async def stream(self, request: ec.Request) -> ec.Response:
        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(self.body), 7):
                yield self.body[start : start + 7]

        return self._response(pieces() if 200 <= self.status < 300 else None)

    async def aclose(self) -> None:
        pass


def assert_private(error: BaseException, body: bytes) -> None:
    assert SENTINEL not in str(error)
    assert SENTINEL not in repr(error)
    kept: bytes = error.body  # type: ignore[attr-defined]
    assert kept
    assert body.startswith(kept)  # all of it, or a streamed body's first bytes
    assert error.request_id == "req-7"  # type: ignore[attr-defined]


async def outcome(status: int, body: bytes, operation: str) -> BaseException:
    async with ec.Client("361", "s", transport=Answer(status, body), retry=None) as client:
        try:
            if operation == "create":
                await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
            elif operation == "get":
                await client.customers.get("cst_1")
            elif operation == "list":
                await client.customers.list()
            else:
                async with contextlib.aclosing(client.customers.iter()) as customers:
                    async for _ in customers:
                        pass
        except ec.EcomChargeError as exc:
            return exc
    raise AssertionError(f"{operation} of {body[:40]!r} did not fail")


@pytest.mark.parametrize("operation", ["create", "get"])
@pytest.mark.parametrize("name", sorted(BAD_OBJECTS))
async def test_decode_errors_of_one_customer_quote_no_body(operation: str, name: str) -> None:
    body = BAD_OBJECTS[name]
    error = await outcome(201 if operation == "create" else 200, body, operation)
    assert isinstance(error, ec.DecodeError)
    assert_private(error, body)


@pytest.mark.parametrize("operation", ["list", "iter"])
@pytest.mark.parametrize("name", sorted(BAD_LISTS))
async def test_decode_errors_of_a_list_quote_no_body(operation: str, name: str) -> None:
    body = BAD_LISTS[name]
    error = await outcome(200, body, operation)
    assert isinstance(error, ec.DecodeError)
    assert_private(error, body)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", sorted(ERROR_BODIES))
async def test_api_errors_quote_no_body(status: int, name: str) -> None:
    body = ERROR_BODIES[name]
    for operation in ("create", "list", "iter"):
        error = await outcome(status, body, operation)
        assert isinstance(error, ec.APIError)
        assert error.status == status
        assert_private(error, body)
