"""Per-call options (`with_options`), the app's own headers and User-Agent, raw responses."""

from __future__ import annotations

import asyncio
import platform

import attrs
import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault

ALICE = ec.NewCustomer(email="alice@example.com", ip="127.0.0.1")


class Recording:
    """A transport in front of another: records requests, counts closes, can hold requests."""

    def __init__(self, inner: ec.Transport) -> None:
        self.inner = inner
        self.requests: list[ec.Request] = []
        self.closes = 0
        self.hold = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, request: ec.Request) -> ec.Response:
        self.requests.append(request)
        if self.hold:
            self.held.set()
            await self.release.wait()
        return await self.inner.send(request)

    async def aclose(self) -> None:
        self.closes += 1
        await self.inner.aclose()


async def no_sleep(seconds: float) -> None:
    pass


@pytest.fixture
def transport(fake: FakeEcomCharge) -> Recording:
    return Recording(fake.transport())


# -- with_options: timeout and retry per call ----------------------------------------------


async def test_a_per_call_timeout_cuts_only_the_calls_that_asked_for_it(
    transport: Recording,
) -> None:
    async with ec.Client(SHOP_ID, SECRET, transport=transport, timeout=30.0) as client:
        transport.hold = True
        with pytest.raises(ec.APITimeoutError):
            await client.with_options(timeout=0.05).customers.create(ALICE)
        # The same held transport: the client's own 30 s still wait for the answer.
        transport.held.clear()
        patient = asyncio.create_task(client.customers.create(ALICE))
        await transport.held.wait()
        assert not patient.done()
        transport.release.set()
        assert (await patient).email == ALICE.email


async def test_a_per_call_retry_policy_and_retry_none_meaning_one_attempt(
    fake: FakeEcomCharge, transport: Recording
) -> None:
    retry = ec.RetryPolicy(max_attempts=3, sleep=no_sleep)
    async with ec.Client(SHOP_ID, SECRET, transport=transport, retry=retry) as client:
        fake.inject(*[Fault.status(503)] * 4)
        with pytest.raises(ec.ServerError) as once:
            await client.with_options(retry=None).customers.list()
        assert (once.value.attempts, len(transport.requests)) == (1, 1)
        with pytest.raises(ec.ServerError) as thrice:
            await client.customers.list()  # the original keeps its 3 attempts
        assert (thrice.value.attempts, len(transport.requests)) == (3, 4)
        fake.inject(Fault.status(503))
        five = ec.RetryPolicy(max_attempts=5, sleep=no_sleep)
        assert await client.with_options(retry=five).customers.list() == []


async def test_options_not_given_are_kept_and_bad_ones_refused(client: ec.Client) -> None:
    derived = client.with_options(headers={"X-Tenant": "a"})
    assert (derived.timeout, derived.retry) == (client.timeout, client.retry)
    assert client.with_options(timeout=None).timeout is None
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0, or None"):
        client.with_options(timeout=0)
    with pytest.raises(TypeError, match="retry must be a RetryPolicy"):
        client.with_options(retry=3)  # type: ignore[arg-type]


# -- with_options: the shared transport ----------------------------------------------------


async def test_the_shared_transport_is_closed_once_and_only_by_its_owner(
    transport: Recording,
) -> None:
    client = ec.Client(SHOP_ID, SECRET, transport=transport)
    derived = client.with_options(timeout=5.0)
    async with derived:
        await derived.customers.create(ALICE)
    assert derived.closed
    assert not client.closed
    assert transport.closes == 0
    with pytest.raises(RuntimeError, match="closed"):
        await derived.customers.list()
    assert [c.email for c in await client.customers.list()] == [ALICE.email]
    other = client.with_options(retry=None)
    await client.aclose()
    await client.aclose()
    assert transport.closes == 1
    assert other.closed
    with pytest.raises(RuntimeError, match="closed"):
        await other.customers.list()
    with pytest.raises(RuntimeError, match="closed"):
        client.with_options(timeout=1.0)


async def test_derived_clients_send_through_the_same_transport(
    fake: FakeEcomCharge, transport: Recording
) -> None:
    async with ec.Client(SHOP_ID, SECRET, transport=transport) as client:
        for n in range(3):
            await client.with_options(timeout=10.0 + n).customers.create(ALICE)
    assert len(transport.requests) == len(fake.customers) == 3
    assert [r.timeout for r in transport.requests] == [10.0, 11.0, 12.0]


# -- headers and User-Agent ------------------------------------------------------------------


async def test_the_apps_headers_reach_the_transport(transport: Recording) -> None:
    async with ec.Client(
        SHOP_ID, SECRET, transport=transport, headers={"X-Tenant": "shop-7"}
    ) as client:
        await client.customers.create(ALICE)
        await client.with_options(headers={"X-Trace": "t-1", "x-tenant": "shop-8"}).customers.list()
    post, get = transport.requests
    assert post.headers["X-Tenant"] == "shop-7"
    assert post.headers["Content-Type"] == "application/json"
    assert get.headers["x-tenant"] == "shop-8"
    assert "X-Tenant" not in get.headers  # replaced, matched case-insensitively
    assert get.headers["X-Trace"] == "t-1"
    assert post.headers["Authorization"] == get.headers["Authorization"]


class NamedLibrary(Recording):
    """A transport that names its HTTP library, as the SDK's HTTP transports do."""

    user_agent = "mylib/2.1.0"


async def test_the_user_agent_names_the_sdk_the_app_python_and_the_transport_used(
    fake: FakeEcomCharge,
) -> None:
    python = ".".join(platform.python_version_tuple()[:2])
    agents = []
    for app, transport in (
        ("myshop/1.4", NamedLibrary(fake.transport())),
        (None, NamedLibrary(fake.transport())),
        (None, Recording(fake.transport())),
    ):
        async with ec.Client(SHOP_ID, SECRET, transport=transport, user_agent=app) as client:
            await client.customers.list()
        agents.append(transport.requests[0].headers["User-Agent"])
    assert agents == [
        f"ecomcharge-async/{ec.__version__} myshop/1.4 Python/{python} mylib/2.1.0",
        f"ecomcharge-async/{ec.__version__} Python/{python} mylib/2.1.0",
        # A transport that does not name a library (the fake) adds nothing.
        f"ecomcharge-async/{ec.__version__} Python/{python}",
    ]
    with pytest.raises(ValueError, match="user_agent contains a line break"):
        ec.Client(SHOP_ID, SECRET, transport=fake.transport(), user_agent="x\n")


# -- raw responses ---------------------------------------------------------------------------


async def request_ids(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
    """Stamps each answer with a request id, as the API's gateway does."""
    response = await call_next(request)
    return attrs.evolve(response, headers={**response.headers, "x-request-id": "req_42"})


async def test_raw_responses_carry_status_headers_request_id_and_attempts(
    fake: FakeEcomCharge,
) -> None:
    retry = ec.RetryPolicy(sleep=no_sleep)
    async with ec.Client(
        SHOP_ID, SECRET, transport=fake.transport(), retry=retry, attempt_middleware=[request_ids]
    ) as client:
        raw = client.customers.with_raw_response
        fake.inject(Fault.status(503))
        created = await raw.create(ALICE)
        assert (created.status, created.request_id, created.attempts) == (201, "req_42", 2)
        assert created.headers["Content-Type"] == "application/json"
        customer = created.parse()
        assert customer == fake.customers[0]
        got = await raw.get(customer.id)
        assert (got.status, got.attempts, got.parse()) == (200, 1, customer)
        listed = await raw.list()
        assert listed.parse() == await client.customers.list() == [customer]
        assert "req_42" in repr(listed)


async def test_a_raw_response_without_a_request_id_says_none(client: ec.Client) -> None:
    raw = await client.customers.with_raw_response.list()
    assert (raw.status, raw.request_id, raw.attempts, raw.parse()) == (200, None, 1, [])


async def test_raw_calls_raise_the_same_errors(client: ec.Client) -> None:
    with pytest.raises(ec.NotFoundError):
        await client.customers.with_raw_response.get("cst_0000000000000000")
    with pytest.raises(ValueError, match="not allowed in a path"):
        await client.customers.with_raw_response.get("../x")
    with pytest.raises(TypeError, match="takes a NewCustomer"):
        await client.customers.with_raw_response.create({"email": "a"})  # type: ignore[arg-type]
