"""Hostile responses, by the thousand: promise 1 of docs/guides/security.md.

A property test drives create, get, list and iter through a Transport that
answers with arbitrary statuses, headers and bodies. The other promises are
tested in test_cancellation.py, test_secrets.py and the module test files; the
last test here checks that the guide names only tests that exist.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ecomcharge_async as ec

#: How many hostile responses the property test tries per run (reported in the guide).
HOSTILE_CASES = 2000
#: The longest str() of an error a hostile answer can produce.
MAX_ERROR_CHARS = 1000

CUSTOMER = {
    "id": "cst_7aee5afb954c7ef7",
    "email": "customer@example.com",
    "ip": "127.0.0.1",
    "city": "Denver",
}
FIELDS = [field.name for field in attrs.fields(ec.Customer)]


async def no_sleep(seconds: float) -> None:
    """Retries in tests need not wait for real."""


@attrs.define
class ScriptedTransport:
    """Answers with the given responses in turn (the last one repeats).

    `stream` hands a 2xx body over in pieces of `piece` bytes, as a network would.
    """

    responses: Sequence[ec.Response]
    piece: int = 64
    sent: int = 0

    async def send(self, request: ec.Request) -> ec.Response:
        response = self.responses[min(self.sent, len(self.responses) - 1)]
        self.sent += 1
        await asyncio.sleep(0)
        return response

    async def stream(self, request: ec.Request) -> ec.Response:
        response = await self.send(request)
        if not 200 <= response.status < 300:
            return response
        return attrs.evolve(response, body=b"", chunks=_pieces(response.body, self.piece))

    async def aclose(self) -> None:
        pass


async def _pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    size = max(size, len(body) // 256)  # at most ~256 pieces: keeps the test fast
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


KEYS = [*FIELDS, "message", "errors", "response", "base", "x"]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([10**400, -(10**400), 2**64, 1e308, "\ud800", "\x00\n\x1b[2J"])
)


def _objects(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    # Lists of pairs, not st.dictionaries: no unique-key retries, much cheaper to draw.
    return st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3).map(dict)


# Two levels of nesting, spelled out: st.recursive is several times slower to draw.
shallow = json_leaves | st.lists(json_leaves, max_size=3) | _objects(json_leaves)
json_values = shallow | st.lists(shallow, max_size=3) | _objects(shallow)
# A valid customer with a few fields overwritten or dropped: sometimes still valid,
# often wrong in exactly one place.
near_customers = st.builds(
    lambda changes, dropped: {
        key: value for key, value in {**CUSTOMER, **changes}.items() if key not in dropped
    },
    _objects(json_values),
    st.sets(st.sampled_from(FIELDS), max_size=2),
)
json_documents = st.one_of(
    json_values,
    near_customers,
    st.lists(near_customers, max_size=4),
    _objects(json_values),
)


def _cut(body: bytes, at: int) -> bytes:
    return body[:at]


def _insert(body: bytes, junk: bytes, at: int) -> bytes:
    return body[:at] + junk + body[at:]


def _nested(depth: int, kind: str) -> bytes:
    if kind == "arrays":
        return b"[" * depth + b"]" * depth
    if kind == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # never closed


valid_json = json_documents.map(_dump)
# Hand-picked hostile bodies, plus well-formed answers to cut and corrupt.
SEED_BODIES = [
    b"",
    b"null",
    b"1e999999",
    b"-1e999999",
    b"NaN",
    b"[Infinity]",
    b"9" * 5000,
    b"[" + b"1" * 10_000 + b"]",
    b'{"id": 1e999999, "email": "e", "ip": "i"}',
    b'{"message": ' + b"7" * 5000 + b"}",
    b'{"id": "\xff\xfe", "email": "e", "ip": "i"}',
    b'{"message": "\\ud800 lone surrogate"}',
    b'{"message": "line one\\nFAKE LOG LINE\\r\\n\\u001b[31mred\\u0000"}',
    b'\xef\xbb\xbf{"id": "cst_1", "email": "e", "ip": "i"}',
    '{"id": "cst_1", "email": "e", "ip": "i"}'.encode("utf-16"),
    "[{}]".encode("utf-32-le"),
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
    b"<!DOCTYPE html><html>" + b"<p>maintenance</p>" * 5000 + b"</html>",
    b"\x00" * 1000,
    _dump(CUSTOMER),
    _dump([CUSTOMER, CUSTOMER]),
    _dump({"message": "Ip address is invalid", "errors": {"ip": ["can't be blank"]}}),
    _dump({"response": {"status": "error", "message": "Access denied"}}),
]
seed_bodies = st.sampled_from(SEED_BODIES)
bodies = st.one_of(
    valid_json,
    seed_bodies,
    st.builds(_cut, valid_json | seed_bodies, st.integers(0, 400)),
    st.builds(_insert, seed_bodies, st.binary(min_size=1, max_size=3), st.integers(0, 400)),
    st.binary(max_size=300),
    st.builds(_nested, st.integers(1, 100_000), st.sampled_from(["arrays", "objects", "open"])),
)
retry_after_values = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "-1",
            "60",
            "61",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "soon",
            "",
            "1_000",
            "\u0661\u0662",
            "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
            "Mon, 01 Jan 9999999999 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 -0000",
            "Wed, 99 Foo 2015 07:28:00 GMT",
        ]
    ),
    st.text(max_size=40),
    st.floats().map(str),
    st.integers().map(str),
    # HTTP dates with any year, day and hour: out of range, or far in the past or future.
    st.builds(
        "{:s}, {:02d} Jan {:d} {:02d}:00:00 GMT".format,
        st.sampled_from(["Mon", "Xyz"]),
        st.integers(0, 99),
        st.integers(-1, 10**30),
        st.integers(0, 99),
    ),
)


def _headers(name: str | None, value: str, millis: str | None, kind: str) -> dict[str, str]:
    headers = {"Content-Type": kind}
    if name is not None:
        headers[name] = value
    if millis is not None:
        headers["retry-after-ms"] = millis
    return headers


headers = st.builds(
    _headers,
    st.sampled_from(["Retry-After", "retry-after", "RETRY-AFTER", None]),
    retry_after_values,
    st.none() | retry_after_values,
    st.sampled_from(["application/json", "text/html; charset=utf-8", "\x00"]),
)
statuses = st.one_of(
    st.sampled_from([408, 429, 500, 502, 503, 504]),  # the ones retry and Retry-After look at
    st.sampled_from([200, 201, 204, 400, 401, 404, 422]),
    st.integers(100, 599),
    st.sampled_from([0, -1, 99, 600, 999, 1000]),
)
responses = st.builds(ec.Response, status=statuses, headers=headers, body=bodies)


async def _call(client: ec.Client, operation: str) -> object:
    if operation == "create":
        return await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
    if operation == "get":
        return await client.customers.get("cst_7aee5afb954c7ef7")
    if operation == "iter":
        return [customer async for customer in client.customers.iter()]
    return await client.customers.list()


# 2,000 examples take ~20 s on a quiet core and several times that on a busy machine.
@pytest.mark.timeout(300)
@settings(
    max_examples=HOSTILE_CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    answers=st.lists(responses, min_size=1, max_size=2),
    operation=st.sampled_from(["create", "get", "list", "iter"]),
    retry=st.sampled_from([None, ec.RetryPolicy(sleep=no_sleep)]),
    piece=st.integers(1, 100),
)
async def test_any_response_decodes_or_raises_our_error(
    answers: list[ec.Response], operation: str, retry: ec.RetryPolicy | None, piece: int
) -> None:
    transport = ScriptedTransport(answers, piece)
    outcome: object
    async with ec.Client("361", "s", transport=transport, retry=retry) as client:
        try:
            async with asyncio.timeout(10):
                outcome = await _call(client, operation)
        except ec.EcomChargeError as exc:
            outcome = exc
    if isinstance(outcome, ec.EcomChargeError):
        text = str(outcome)
        assert len(text) <= MAX_ERROR_CHARS, text[:300]
        assert text.isprintable(), text
        assert len(repr(outcome)) <= MAX_ERROR_CHARS + 100
    elif operation in ("list", "iter"):
        assert isinstance(outcome, list)
        assert all(type(item) is ec.Customer for item in outcome)
        assert 200 <= answers[min(transport.sent, len(answers)) - 1].status < 300
    else:
        assert type(outcome) is ec.Customer
        assert 200 <= answers[min(transport.sent, len(answers)) - 1].status < 300


# -- the guide names real tests -------------------------------------------------------------

GUIDE = Path(__file__).parent.parent / "docs" / "guides" / "security.md"


def test_every_test_the_security_guide_names_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d) \| .+ \| (.+) \|$", text, flags=re.MULTILINE)
    assert [number for number, _ in rows] == list("1234567")
    for number, proofs in rows:
        named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", proofs)
        assert named, f"promise {number} names no test"
        for file, name in named:
            tree = ast.parse((Path(__file__).parent / file).read_text(encoding="utf-8"))
            defined = {
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert name in defined, f"promise {number}: {file}::{name} does not exist"
    assert f"{HOSTILE_CASES:,} hostile exchanges per run" in text
    assert f"at most {MAX_ERROR_CHARS:,} characters" in text
