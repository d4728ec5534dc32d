"""The fake eComCharge answers like the API, in process and over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import attrs
import pytest
import yarl
from conftest import arrived
from hypothesis import given, settings
from hypothesis import strategies as st

import ecomcharge_async as ec
from ecomcharge_async._core.errors import error_from_response
from ecomcharge_async.testing import FakeEcomCharge, FakeTransport, Fault, _rules
from ecomcharge_async.testing._backend import HELP_URL
from ecomcharge_async.testing._server import serve

AUTH = aiohttp.encode_basic_auth("361", "s")
URL = "https://api.ecomcharge.com/customers"
JSON = {"Authorization": AUTH, "Content-Type": "application/json"}


@pytest.fixture
def fake() -> FakeEcomCharge:
    return FakeEcomCharge(shop_id="361", secret_key="s", seed=1)


def handle(fake: FakeEcomCharge, method: str, url: str = URL, **kwargs: object) -> ec.Response:
    return fake.handle(ec.Request(method=method, url=url, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "url", "headers", "body", "status", "message"),
    [
        ("POST", URL, {"Authorization": AUTH}, b"{}", 422, "Content-Type must be"),
        ("POST", URL, {**JSON, "Content-Type": "text/plain"}, b"{}", 422, "Content-Type"),
        ("POST", URL, JSON, b"{not json", 422, "Body is not valid JSON"),
        ("POST", URL, JSON, b"[1, 2]", 422, "Body must be a JSON object"),
        ("POST", URL, JSON, b"[" * 50_000, 422, "Body is not valid JSON"),
        ("POST", URL, JSON, b" " * 70_000, 413, "too large"),
        ("DELETE", URL, JSON, b"", 405, "Method not allowed"),
        ("PUT", URL + "/cst_1", JSON, b"{}", 405, "Method not allowed"),
        ("GET", URL + "/cst_1", JSON, b"", 404, "Customer not found"),
        ("GET", "https://api.ecomcharge.com/subscriptions", JSON, b"", 404, "Not found"),
    ],
)
def test_bad_requests_get_4xx_with_a_message(
    fake: FakeEcomCharge,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    message: str,
) -> None:
    response = handle(fake, method, url, headers=headers, body=body)
    assert response.status == status
    assert message in json.loads(response.body)["message"]
    assert fake.customers == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": AUTH + "x"}]
)
def test_wrong_credentials_get_the_platforms_error_object(
    fake: FakeEcomCharge, headers: dict[str, str]
) -> None:
    response = handle(fake, "POST", headers=headers, body=b"{}")
    assert response.status == 401
    assert json.loads(response.body) == {
        "error": {
            "code": "unauthorized",
            "friendly_message": "You can't have access to this area",
            "help": HELP_URL,
            "message": "Unauthorized",
        }
    }
    error = error_from_response(response)
    assert type(error) is ec.AuthenticationError
    assert error.message == "Unauthorized: You can't have access to this area"
    assert (error.code, error.help_url) == ("unauthorized", HELP_URL)
    assert fake.customers == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null", b"{not json"])
def test_a_body_that_is_not_a_json_object_is_a_422_under_base(
    fake: FakeEcomCharge, body: bytes
) -> None:
    error = error_from_response(handle(fake, "POST", headers=JSON, body=body))
    assert isinstance(error, ec.ValidationError)
    assert list(error.errors) == ["base"]
    assert error.message == error.errors["base"][0]


def test_create_ignores_a_client_chosen_id_and_unknown_fields(fake: FakeEcomCharge) -> None:
    body = {"id": "cst_chosen", "email": "a@example.com", "ip": "::1", "vip": True}
    response = handle(fake, "POST", headers=JSON, body=json.dumps(body).encode())
    assert response.status == 201
    created = json.loads(response.body)
    assert created["id"] != "cst_chosen"
    assert "vip" not in created
    assert response.header("content-type") == "application/json"


def test_seeded_fakes_give_the_same_ids() -> None:
    ids = []
    for _ in range(2):
        fake = FakeEcomCharge(seed=5)
        ids.append(fake.add(email="a@example.com", ip="::1").id)
    assert ids[0] == ids[1]


def test_add_stores_without_validation(fake: FakeEcomCharge) -> None:
    customer = fake.add(id="cst_0123456789abcdef", email="not-an-email", ip="x", city="Minsk")
    assert fake.customers == [customer]
    assert next(fake.iter_records())["city"] == "Minsk"
    assert "customers=1" in repr(fake)


async def test_scripted_faults_apply_in_order(fake: FakeEcomCharge) -> None:
    fake.inject(
        Fault.refuse(),
        None,
        Fault.status(429, retry_after=2, body=b'{"message":"slow"}'),
        Fault.status(503),
        Fault.drop(),
        Fault.delay(0.01),
    )
    async with ec.Client("361", "s", transport=fake.transport(), retry=None) as client:
        with pytest.raises(ec.ConnectError, match="refused"):
            await client.customers.list()
        assert await client.customers.list() == []
        with pytest.raises(ec.RateLimitError) as limited:
            await client.customers.list()
        assert (limited.value.retry_after, limited.value.message) == (2.0, "slow")
        with pytest.raises(ec.ServerError):
            await client.customers.list()
        with pytest.raises(ec.APIConnectionError, match="lost before the response"):
            await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert len(fake.customers) == 1  # the dropped create was stored
        assert await client.customers.list() == fake.customers  # after the delay
    assert fake.request_count == 6


async def test_random_faults_are_seeded_and_bounded() -> None:
    outcomes = []
    for _ in range(2):
        fake = FakeEcomCharge("361", "s")
        fake.inject_random(0.5, seed=3, faults=(Fault.status(500), Fault.refuse()))
        async with ec.Client("361", "s", transport=fake.transport(), retry=None) as client:
            run = []
            for _ in range(40):
                try:
                    await client.customers.list()
                    run.append("ok")
                except ec.EcomChargeError as exc:
                    run.append(type(exc).__name__)
            outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert {"ok", "ServerError", "ConnectError"} == set(outcomes[0])


@pytest.mark.parametrize(
    ("rate", "faults"), [(-0.1, (Fault.refuse(),)), (1.5, (Fault.refuse(),)), (0.5, ())]
)
def test_random_fault_arguments_are_checked(
    fake: FakeEcomCharge, rate: float, faults: tuple[Fault, ...]
) -> None:
    with pytest.raises(ValueError, match="fault"):
        fake.inject_random(rate, faults=faults)


async def test_clear_faults(fake: FakeEcomCharge) -> None:
    fake.inject(Fault.refuse())
    fake.inject_random(1.0, seed=1)
    fake.faults.clear()
    async with ec.Client("361", "s", transport=fake.transport()) as client:
        assert await client.customers.list() == []


def test_fake_transport_is_a_transport(fake: FakeEcomCharge) -> None:
    transport = fake.transport()
    assert isinstance(transport, FakeTransport)
    assert isinstance(transport, ec.Transport)
    assert "FakeEcomCharge" in repr(transport)


async def test_faults_over_real_http(fake: FakeEcomCharge) -> None:
    fake.inject(
        Fault.refuse(),
        Fault.status(503, retry_after="1", body=b"<html>down</html>"),
        Fault.drop(),
        Fault.delay(0.01),
    )
    new = ec.NewCustomer(email="a@example.com", ip="::1")
    async with serve(fake) as url, ec.Client("361", "s", base_url=url, retry=None) as client:
        # aiohttp itself resends an idempotent GET once on a reset connection, so the
        # refusal is shown with a POST, which nobody may resend blindly.
        with pytest.raises(ec.APIConnectionError):
            await client.customers.create(new)
        assert fake.customers == []
        with pytest.raises(ec.ServerError) as down:
            await client.customers.list()
        assert down.value.headers["Retry-After"] == "1"
        with pytest.raises(ec.APIConnectionError):
            await client.customers.create(new)
        assert await client.customers.list() == fake.customers
        assert len(fake.customers) == 1


# -- hardening: the loopback server refuses bad input with 4xx, never 500 -------------------


async def _chunked(body: bytes, piece: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(body), piece):
        yield body[start : start + piece]


BIG = b'{"email": "a@example.com", "ip": "::1", "city": "' + b"x" * 1_000_000 + b'"}'


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("POST", "/customers", JSON, b"{not json", 422),
        ("POST", "/customers", JSON, b"", 422),
        ("POST", "/customers", JSON, b'{"email": "\xff\xfe"}', 422),
        ("POST", "/customers", JSON, b"[" * 60_000, 422),
        ("POST", "/customers", JSON, b'"just a string"', 422),
        ("POST", "/customers", JSON, b'{"email": 1, "ip": [], "zip": {}}', 422),
        ("POST", "/customers", JSON, b'{"email": "a@b.co", "ip": "::1", "city": 1e999}', 422),
        ("POST", "/customers", {"Authorization": AUTH}, b"{}", 422),
        ("POST", "/customers", {**JSON, "Content-Type": "text/plain"}, b"{}", 422),
        ("POST", "/customers", {**JSON, "Content-Type": "application/jsonx"}, b"{}", 422),
        ("POST", "/customers", JSON, BIG, 413),
        ("POST", "/customers", JSON, "chunked", 413),
        ("POST", "/customers", {}, b"{}", 401),
        ("GET", "/customers/..%2f..%2fetc", JSON, b"", 404),
        ("GET", "/customers/a/b", JSON, b"", 404),
        ("DELETE", "/customers", JSON, b"", 405),
        ("PATCH", "/customers/cst_1", JSON, b"{}", 405),
    ],
)
async def test_the_loopback_server_answers_bad_input_with_4xx(
    fake: FakeEcomCharge,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | str,
    status: int,
) -> None:
    data = _chunked(BIG) if body == "chunked" else body
    async with (
        serve(fake) as url,
        aiohttp.ClientSession() as session,
        session.request(method, url + path, headers=headers, data=data) as response,
    ):
        answer = await response.read()
    assert response.status == status, answer[:200]
    data = json.loads(answer)
    assert data["error"]["message"] if status == 401 else data["message"]
    assert fake.customers == []


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from([*_rules.FIELDS, "x"]), inner, max_size=6)
        ),
        max_leaves=12,
    )
)
def test_any_json_body_gets_201_or_a_4xx(value: object) -> None:
    fake = FakeEcomCharge(shop_id="361", secret_key="s")
    response = handle(fake, "POST", headers=JSON, body=json.dumps(value).encode())
    assert response.status == 201 or 400 <= response.status < 500
    assert isinstance(json.loads(response.body), dict)


async def test_closing_the_fake_transport_ends_a_call_in_flight(fake: FakeEcomCharge) -> None:
    fake.inject(Fault.delay(60))
    client = ec.Client("361", "s", transport=fake.transport())
    call = asyncio.create_task(client.customers.list())
    await arrived(fake)  # the call is in the transport now
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed while the request was in flight"):
        await call


async def test_a_reader_leaving_a_streamed_list_early_is_not_a_server_error(
    fake: FakeEcomCharge, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(20_000):
        fake.add(email=f"user{n}@example.com", ip="10.0.0.1")
    async with serve(fake) as url, ec.Client("361", "s", base_url=url) as client:
        for _ in range(3):
            async with contextlib.aclosing(client.customers.iter()) as customers:
                async for _customer in customers:
                    break
        assert len(await client.customers.list()) == 20_000
    # Leaving serve() waits for every handler, so an error they logged is in caplog now.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


# -- the contract where the API doc is silent (docs/contract.md) ----------------------


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"Authorization": AUTH}, b"{}", "Content-Type must be application/json"),
        ({**JSON, "Content-Type": "text/plain"}, b"{}", "Content-Type must be application/json"),
        (JSON, b"{not json", "Body is not valid JSON"),
        (JSON, b"", "Body is not valid JSON"),
        (JSON, b"null", "Body must be a JSON object"),
    ],
)
def test_a_body_that_is_no_json_object_is_a_422_under_base(
    fake: FakeEcomCharge, headers: dict[str, str], body: bytes, reason: str
) -> None:
    response = handle(fake, "POST", headers=headers, body=body)
    assert response.status == 422
    assert json.loads(response.body) == {"message": reason, "errors": {"base": [reason]}}


async def test_the_sdk_reads_a_base_error_as_a_validation_error(fake: FakeEcomCharge) -> None:
    async with ec.Client("361", "s", transport=fake.transport()) as client:
        with pytest.raises(ec.ValidationError) as info:
            await client.request("POST", "/customers", json=[1, 2])
    assert info.value.errors == {"base": ["Body must be a JSON object"]}
    assert fake.customers == []


@pytest.mark.parametrize(
    "fields",
    [
        {"first_name": None, "country": None, "state": None, "zip": None},
        {"first_name": "", "city": "   ", "phone": " +1 "},
        {"country": "DE", "zip": ""},
    ],
)
def test_null_is_absent_and_free_text_is_stored_as_sent(
    fake: FakeEcomCharge, fields: dict[str, str | None]
) -> None:
    body = {"email": "a@example.com", "ip": "::1", **fields}
    response = handle(fake, "POST", headers=JSON, body=json.dumps(body).encode())
    assert response.status == 201
    created = json.loads(response.body)
    expected = dict.fromkeys(_rules.FIELDS) | {k: v for k, v in body.items() if v is not None}
    assert {k: v for k, v in created.items() if k != "id"} == expected


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"country": "US", "state": "CO", "zip": ""}, {"zip": ["is invalid"]}),
        ({"country": "US", "state": "CO", "zip": " "}, {"zip": ["is invalid"]}),
        ({"country": "", "state": ""}, {"country": ["is invalid"], "state": ["is invalid"]}),
        ({"country": "CA", "state": " "}, {"state": ["can't be blank"]}),
        (
            {"email": " ", "ip": " ::1 "},
            {"email": ["can't be blank"], "ip": ["address is invalid"]},
        ),
    ],
)
async def test_blank_is_cant_be_blank_or_is_invalid_on_both_fronts(
    fake: FakeEcomCharge, fields: dict[str, str], errors: dict[str, list[str]]
) -> None:
    customer = attrs.evolve(ec.NewCustomer(email="a@example.com", ip="::1"), **fields)
    async with serve(fake) as url:
        for options in ({"transport": fake.transport()}, {"base_url": url}):
            async with ec.Client("361", "s", **options) as client:  # type: ignore[arg-type]
                with pytest.raises(ec.ValidationError) as info:
                    await client.customers.create(customer)
            assert info.value.errors == errors
    assert fake.customers == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/customers", "GET, POST"),
        ("PUT", "/customers", "GET, POST"),
        ("PATCH", "/customers/cst_1", "GET"),
        ("POST", "/customers/cst_1", "GET"),
    ],
)
async def test_405_names_the_allowed_methods_on_both_fronts(
    fake: FakeEcomCharge, method: str, path: str, allow: str
) -> None:
    response = handle(fake, method, "https://api.ecomcharge.com" + path, headers=JSON, body=b"{}")
    assert (response.status, response.header("Allow")) == (405, allow)
    async with (
        serve(fake) as url,
        aiohttp.ClientSession() as session,
        session.request(method, url + path, headers=JSON, data=b"{}") as answer,
    ):
        assert (answer.status, answer.headers.get("Allow")) == (405, allow)
        assert json.loads(await answer.read()) == {"message": "Method not allowed"}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/customers/%0A", 404, "Customer not found"),
        ("/customers/cst_1%0D%0AX-Injected:%201", 404, "Customer not found"),
        ("/customers/%09%00%7F", 404, "Customer not found"),
        ("/customers/%E2%80%8B", 404, "Customer not found"),
        ("/customers/%FF", 404, "Customer not found"),
        ("/%0A", 404, "Not found"),
        ("/customers/%0A/x", 404, "Not found"),
    ],
)
async def test_any_path_gets_the_apis_json_answer(
    fake: FakeEcomCharge, path: str, status: int, message: str
) -> None:
    async with serve(fake) as url, aiohttp.ClientSession() as session:
        target = yarl.URL(url + path, encoded=True)
        for headers, expected in (({"Authorization": AUTH}, (status, message)), ({}, (401, None))):
            async with session.get(target, headers=headers) as response:
                answer = json.loads(await response.read())
            assert response.headers["Content-Type"] == "application/json"
            assert response.status == expected[0]
            assert expected[1] is None or answer["message"] == expected[1]
