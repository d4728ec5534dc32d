"""`client.request()`: any endpoint with the same auth, retries, errors, middleware and logs."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import attrs
import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async._core.settings import basic_auth
from ecomcharge_async.testing import FakeEcomCharge, Fault

ALICE = ec.NewCustomer(email="alice@example.com", ip="127.0.0.1")


async def no_sleep(seconds: float) -> None:
    """Retries here wait for nothing."""


FAST = ec.RetryPolicy(sleep=no_sleep)


class Seen:
    """A per-attempt middleware that keeps every request it passes on."""

    def __init__(self) -> None:
        self.requests: list[ec.Request] = []

    async def __call__(self, request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        self.requests.append(request)
        return await call_next(request)


@attrs.frozen(kw_only=True)
class Brief:
    """A caller's own shape of a customer: only the fields it wants."""

    id: str
    email: str | None = None


async def test_without_cast_it_returns_the_decoded_json(client: ec.Client) -> None:
    created = await client.request(
        "POST", "/customers", json={"email": "a@example.com", "ip": "1.2.3.4"}
    )
    assert created["email"] == "a@example.com"
    assert await client.request("GET", f"/customers/{created['id']}") == created
    assert await client.request("get", "/customers") == [created]


async def test_cast_structures_attrs_classes_lists_and_anything_the_converter_reads(
    client: ec.Client,
) -> None:
    created = await client.request("POST", "/customers", json=ALICE, cast=ec.Customer)
    assert isinstance(created, ec.Customer)
    assert created.email == ALICE.email
    assert await client.request("GET", "/customers", cast=list[ec.Customer]) == [created]
    assert await client.request("GET", "/customers", cast=list[Brief]) == [
        Brief(id=created.id, email=ALICE.email)
    ]
    by_field = await client.request("GET", f"/customers/{created.id}", cast=dict[str, Any])
    assert by_field["id"] == created.id


async def test_a_422_is_a_validation_error_with_its_field_errors(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    with pytest.raises(ec.ValidationError) as info:
        await client.request("POST", "/customers", json={"email": "not-an-email", "ip": "1.2.3.4"})
    assert "email" in info.value.errors
    with pytest.raises(ec.NotFoundError):
        await client.request("GET", "/customers/cst_0000000000000000")
    assert fake.customers == []


async def test_an_unreadable_answer_is_a_decode_error_that_quotes_no_data(
    client: ec.Client,
) -> None:
    await client.request("POST", "/customers", json=ALICE)
    with pytest.raises(ec.DecodeError) as info:
        await client.request("GET", "/customers", cast=dict[str, int])
    assert "dict" in str(info.value)
    assert "alice" not in str(info.value)
    assert info.value.status == 200


async def test_a_get_is_retried_and_a_post_that_may_have_landed_is_never_replayed(
    make_client: Any, fake: FakeEcomCharge
) -> None:
    client = make_client(retry=FAST)
    fake.inject(Fault.status(503), Fault.drop())
    assert await client.request("GET", "/customers") == []
    assert fake.request_count == 3
    fake.inject(Fault.drop())
    with pytest.raises(ec.APIConnectionError) as info:
        await client.request("POST", "/customers", json=ALICE)
    assert info.value.attempts == 1
    assert fake.request_count == 4
    assert len(fake.customers) == 1  # it landed once, and was not sent again
    fake.inject(Fault.status(503))
    assert (await client.request("POST", "/customers", json=ALICE))["email"] == ALICE.email


async def test_it_carries_the_clients_auth_headers_timeout_and_options(
    make_client: Any, fake: FakeEcomCharge
) -> None:
    seen = Seen()
    client = make_client(attempt_middleware=[seen], headers={"X-Tenant": "t1"}, timeout=7.0)
    await client.request("GET", "/customers")
    await client.with_options(timeout=2.0, headers={"X-Trace": "x"}).request("GET", "/customers")
    first, second = seen.requests
    assert first.headers["Authorization"] == basic_auth(SHOP_ID, SECRET)
    assert (first.headers["X-Tenant"], first.timeout, second.timeout) == ("t1", 7.0, 2.0)
    assert second.headers["X-Trace"] == "x"
    assert (first.operation, first.route) == ("request", None)  # a path may hold an id


async def test_every_call_says_its_operation_and_route(make_client: Any) -> None:
    seen = Seen()
    client = make_client(attempt_middleware=[seen])
    created = await client.customers.create(ALICE)
    await client.customers.get(created.id)
    await client.customers.list()
    assert [c async for c in client.customers.iter()] == [created]
    await client.customers.with_raw_response.get(created.id)
    assert [(r.operation, r.route) for r in seen.requests] == [
        ("customers.create", "/customers"),
        ("customers.get", "/customers/{customer_id}"),
        ("customers.list", "/customers"),
        ("customers.iter", "/customers"),
        ("customers.get", "/customers/{customer_id}"),
    ]


async def test_logs_and_per_call_middleware_see_the_operation(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    names: list[str] = []

    async def note(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        names.append(request.operation)
        return await call_next(request)

    caplog.set_level(logging.DEBUG, logger="ecomcharge_async")
    client = make_client(middleware=[note])
    await client.request("GET", "/customers")
    await client.customers.list()
    assert names == ["request", "customers.list"]
    assert [r.operation for r in caplog.records] == ["request", "customers.list"]  # type: ignore[attr-defined]


async def test_the_raw_twin_keeps_the_answer_and_parses_as_cast_says(client: ec.Client) -> None:
    raw = await client.with_raw_response.request("POST", "/customers", json=ALICE, cast=ec.Customer)
    assert (raw.status, raw.attempts) == (201, 1)
    assert raw.headers["Content-Type"] == "application/json"
    assert raw.parse().email == ALICE.email
    listed = await client.with_raw_response.request("GET", "/customers")
    assert listed.parse()[0]["email"] == ALICE.email
    with pytest.raises(ec.NotFoundError):
        await client.with_raw_response.request("GET", "/customers/cst_0000000000000000")


async def test_an_empty_answer_is_none(make_client: Any) -> None:
    async def no_content(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        return ec.Response(status=204)

    client = make_client(middleware=[no_content])
    assert await client.request("DELETE", "/customers/cst_1") is None


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "customers", "relative to the base URL"),
        ("GET", "//evil.example/customers", "relative to the base URL"),
        ("GET", "/customers#x", "whitespace, control characters or '#'"),
        ("GET", "/customers\n", "whitespace, control characters or '#'"),
        ("GE T", "/customers", "HTTP method"),
    ],
)
async def test_a_bad_method_or_path_is_refused_before_anything_is_sent(
    client: ec.Client, fake: FakeEcomCharge, method: str, path: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await client.request(method, path)
    assert fake.request_count == 0


async def test_a_body_json_cannot_carry_is_refused(client: ec.Client) -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        await client.request("POST", "/customers", json={"when": object()})


async def test_a_closed_client_refuses_generic_calls(client: ec.Client) -> None:
    derived = client.with_options(timeout=1.0)
    await client.aclose()
    for closed in (client, derived):
        with pytest.raises(RuntimeError, match="closed"):
            await closed.request("GET", "/customers")


@pytest.mark.parametrize(
    ("shop_id", "secret"),
    [("361", "s"), ("shop", "päss wörd ✓"), ("1", "k" * 300), ("x", "")],
)
def test_the_basic_header_is_byte_identical_to_aiohttps(shop_id: str, secret: str) -> None:
    assert basic_auth(shop_id, secret) == aiohttp.encode_basic_auth(shop_id, secret)


def test_the_sync_client_has_the_generic_request_and_its_raw_twin(fake: FakeEcomCharge) -> None:
    with ec.SyncClient(SHOP_ID, SECRET, transport=fake.transport()) as client:
        created = client.request("POST", "/customers", json=ALICE, cast=ec.Customer)
        assert client.request("GET", "/customers", cast=list[ec.Customer]) == [created]
        raw = client.with_raw_response.request("GET", f"/customers/{created.id}")
        assert (raw.status, raw.parse()["id"]) == (200, created.id)
        with pytest.raises(ec.ValidationError):
            client.request("POST", "/customers", json={"email": "x"})


async def test_send_hands_over_the_checked_response_streamed_if_asked(client: ec.Client) -> None:
    await client.request("POST", "/customers", json=ALICE)
    response = await client.send("GET", "/customers", stream=True)
    assert response.chunks is not None
    body = b"".join([chunk async for chunk in response.chunks])
    assert b"alice@example.com" in body
    with pytest.raises(ec.ValidationError):
        await client.send("POST", "/customers", b"[1, 2]")


async def test_a_body_that_is_not_json_is_a_decode_error_for_every_cast(make_client: Any) -> None:
    async def broken(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        return ec.Response(status=200, body=b'{"id": "cst_1", "email": "a@exa')

    client = make_client(middleware=[broken])
    for cast in (None, ec.Customer, list[ec.Customer], dict[str, str], int):
        with pytest.raises(ec.DecodeError, match="ends too early") as info:
            await client.request("GET", "/customers/cst_1", cast=cast)
        assert "exa" not in str(info.value)
        assert info.value.body.startswith(b'{"id"')


async def test_other_types_are_structured_by_the_converter(make_client: Any) -> None:
    async def numbers(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        return ec.Response(status=200, body=b'["1", 2, 3.0]')

    client = make_client(middleware=[numbers])
    assert await client.request("GET", "/numbers", cast=list[int]) == [1, 2, 3]
    with pytest.raises(ec.DecodeError, match="cannot be read as int"):
        await client.request("GET", "/numbers", cast=int)


async def test_an_error_names_the_call_that_failed(fake: FakeEcomCharge, make_client: Any) -> None:
    client = make_client(retry=None)
    with pytest.raises(ec.ValidationError) as rejected:
        await client.customers.create(ec.NewCustomer(email="not-an-email", ip="127.0.0.1"))
    with pytest.raises(ec.NotFoundError) as missing:
        await client.customers.get("cst_missing")
    with pytest.raises(ec.NotFoundError) as raw_missing:
        await client.customers.with_raw_response.get("cst_missing")
    fake.inject(Fault.drop())
    with pytest.raises(ec.APIConnectionError) as dropped:
        await client.request("GET", "/customers")
    assert [e.value.operation for e in (rejected, missing, raw_missing, dropped)] == [
        "customers.create",
        "customers.get",
        "customers.get",
        "request",
    ]
    assert ec.EcomChargeError("made by hand").operation is None
