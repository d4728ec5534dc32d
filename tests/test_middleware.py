"""The middleware chain (order, once per call vs once per attempt) and the logging middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async._core.middleware import link
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import serve


async def no_sleep(seconds: float) -> None:
    """Retries in these tests wait for nothing."""


FAST = ec.RetryPolicy(sleep=no_sleep)


class Recorder:
    """A middleware that notes what passes through it, under a name."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    async def __call__(self, request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        self.events.append(f"{self.name} > {request.method}")
        try:
            response = await call_next(request)
        except ec.EcomChargeError as exc:
            self.events.append(f"{self.name} < {type(exc).__name__}")
            raise
        self.events.append(f"{self.name} < {response.status}")
        return response


async def test_link_runs_the_first_middleware_outermost() -> None:
    events: list[str] = []

    async def send(request: ec.Request) -> ec.Response:
        events.append("send")
        return ec.Response(status=204)

    handler = link([Recorder("a", events), Recorder("b", events)], send)
    assert (await handler(ec.Request(method="GET", url="http://127.0.0.1/"))).status == 204
    assert events == ["a > GET", "b > GET", "send", "b < 204", "a < 204"]


async def test_a_layer_may_hand_back_call_next_without_awaiting_it(fake: FakeEcomCharge) -> None:
    """A plain function returning `call_next(request)` is a middleware too (no frame of its own)."""
    seen: list[str] = []

    def tag(request: ec.Request, call_next: ec.Handler, /) -> Awaitable[ec.Response]:
        seen.append(request.url)
        return call_next(request)

    async with ec.Client(
        SHOP_ID, SECRET, transport=fake.transport(), middleware=[tag], attempt_middleware=[tag]
    ) as client:
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="1.2.3.4"))
    assert created.email == "a@example.com"
    assert seen == ["https://api.ecomcharge.com/customers"] * 2


async def test_per_call_middleware_runs_once_and_per_attempt_middleware_every_attempt(
    fake: FakeEcomCharge,
) -> None:
    events: list[str] = []
    fake.inject(Fault.status(503), Fault.refuse())
    async with ec.Client(
        SHOP_ID,
        SECRET,
        transport=fake.transport(),
        retry=FAST,
        middleware=[Recorder("call", events)],
        attempt_middleware=[Recorder("try", events)],
    ) as client:
        await client.customers.list()
    assert events == [
        "call > GET",
        "try > GET",
        "try < 503",
        "try > GET",
        "try < ConnectError",
        "try > GET",
        "try < 200",
        "call < 200",
    ]


async def test_per_call_middleware_sees_the_error_that_will_be_raised(
    fake: FakeEcomCharge,
) -> None:
    events: list[str] = []
    fake.inject(*[Fault.status(503)] * 3)
    async with ec.Client(
        SHOP_ID,
        SECRET,
        transport=fake.transport(),
        retry=FAST,
        middleware=[Recorder("call", events)],
    ) as client:
        with pytest.raises(ec.ServerError) as info:
            await client.customers.list()
        with pytest.raises(ec.NotFoundError):
            await client.customers.get("cst_0000000000000000")
    assert info.value.attempts == 3
    assert events == ["call > GET", "call < ServerError", "call > GET", "call < NotFoundError"]


async def test_middleware_can_change_the_request(fake: FakeEcomCharge) -> None:
    seen: list[str | None] = []

    async def tag(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        headers = {**request.headers, "X-Request-Id": "req-1"}
        return await call_next(
            ec.Request(method=request.method, url=request.url, headers=headers, body=request.body)
        )

    async def check(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        seen.append(request.headers.get("X-Request-Id"))
        return await call_next(request)

    fake.inject(Fault.status(502))
    async with ec.Client(
        SHOP_ID,
        SECRET,
        transport=fake.transport(),
        retry=FAST,
        middleware=[tag],
        attempt_middleware=[check],
    ) as client:
        await client.customers.list()
    assert seen == ["req-1", "req-1"]


async def test_a_middleware_may_answer_without_the_transport(fake: FakeEcomCharge) -> None:
    async def cached(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        return ec.Response(status=200, body=b"[]")

    async def refuse(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        return ec.Response(status=401, body=b'{"message":"blocked by policy"}')

    async with ec.Client(
        SHOP_ID, SECRET, transport=fake.transport(), middleware=[cached]
    ) as client:
        assert await client.customers.list() == []
    async with ec.Client(
        SHOP_ID, SECRET, transport=fake.transport(), middleware=[refuse]
    ) as client:
        with pytest.raises(ec.AuthenticationError, match="blocked by policy"):
            await client.customers.list()
    assert fake.request_count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"middleware": Recorder("x", [])}, "middleware must be a sequence of middleware"),
        ({"middleware": "abc"}, "middleware must be a sequence"),
        ({"middleware": 3}, "middleware must be a sequence of middleware, got 3"),
        ({"middleware": [1]}, "middleware entries must be callables"),
        ({"attempt_middleware": [None]}, "attempt_middleware entries must be callables"),
    ],
)
def test_bad_middleware_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        ec.Client(SHOP_ID, SECRET, **kwargs)


# -- logging -------------------------------------------------------------------------------

PERSON = ec.NewCustomer(
    email="jane.private@example.com",
    ip="203.0.113.9",
    first_name="Janeprivate",
    last_name="Doeprivate",
    address="42 Secret Lane",
    city="Denver",
    country="US",
    state="CO",
    zip="80202",
    phone="+1-555-010-9999",
)
FORBIDDEN = [
    SECRET,
    aiohttp.encode_basic_auth(SHOP_ID, SECRET),
    aiohttp.encode_basic_auth(SHOP_ID, SECRET).split()[1],
    PERSON.email,
    "jane.private",
    "example.com",
    PERSON.phone,
    "555-010",
    PERSON.address,
    PERSON.first_name,
    PERSON.last_name,
]


async def session(client: ec.Client, fake: FakeEcomCharge) -> str:
    """Every kind of call and failure: creates, a rejected create, retries, losses, reads."""
    created = await client.customers.create(PERSON)
    with pytest.raises(ec.ValidationError):
        await client.customers.create(ec.NewCustomer(email=PERSON.email, ip=""))
    fake.inject(Fault.status(503), Fault.status(429, retry_after=1))
    await client.customers.create(PERSON)
    fake.inject(Fault.refuse())  # over loopback HTTP a refusal arrives as a reset
    await client.customers.list()
    fake.inject(Fault.drop())
    with pytest.raises(ec.APIConnectionError):
        await client.customers.create(PERSON)
    fake.inject(Fault.status(500, body=f'{{"message":"{PERSON.email} broke"}}'.encode()))
    with pytest.raises(ec.ServerError):
        await client.customers.create(PERSON)
    fake.inject(*[Fault.status(502)] * 3)
    with pytest.raises(ec.ServerError):
        await client.customers.get(created.id)
    assert await client.customers.get(created.id) == created
    assert len(await client.customers.list()) >= 2
    return created.id


def all_text(record: logging.LogRecord) -> str:
    """Everything a handler could print from a record: message, raw args, extras, traceback."""
    formatter = logging.Formatter("%(message)s %(exc_text)s %(stack_info)s")
    return " ".join(
        [formatter.format(record), str(record.msg), repr(record.args), repr(vars(record))]
    )


async def test_debug_logs_of_a_whole_session_hold_no_secret_and_no_personal_data(
    fake: FakeEcomCharge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's and asyncio's too
    async with ec.Client(SHOP_ID, SECRET, transport=fake.transport(), retry=FAST) as client:
        in_process = await session(client, fake)
    async with (
        serve(fake) as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, retry=FAST) as client,
    ):
        over_http = await session(client, fake)
    ours = [r for r in caplog.records if r.name == "ecomcharge_async"]
    messages = [r.getMessage() for r in ours]
    # The logs are there and useful: attempts, statuses, retries, give-ups.
    assert any(m.startswith("POST /customers -> 201 (attempt 1,") for m in messages)
    assert any(m.startswith("POST /customers -> 422 (attempt 1,") for m in messages)
    assert any(m.startswith("POST /customers attempt 1 failed after") for m in messages)
    assert any(m.startswith("GET /customers attempt 1 failed after") for m in messages)
    assert any(m.endswith("ms: ConnectError") for m in messages)
    assert any(
        "HTTP 429, waiting 1.00 s (Retry-After) before attempt 3 of 3" in m for m in messages
    )
    assert any("may have reached the server is not replayed" in m for m in messages)
    for customer_id in (in_process, over_http):  # ids are fine to log, and useful
        assert any(m.startswith(f"GET /customers/{customer_id} -> 200") for m in messages)
    assert {r.levelname for r in ours} == {"DEBUG", "INFO", "WARNING"}
    for record in caplog.records:
        text = all_text(record)
        for secret in FORBIDDEN:
            assert secret not in text, (record.name, record.getMessage())


async def test_log_records_carry_structured_fields(
    client: ec.Client, fake: FakeEcomCharge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ecomcharge_async")
    created = await client.customers.create(PERSON)
    (record,) = [r for r in caplog.records if r.levelno == logging.DEBUG]
    fields = ("operation", "method", "path", "status", "attempt")
    assert [getattr(record, name) for name in fields] == [
        "customers.create",
        "POST",
        "/customers",
        201,
        1,
    ]
    assert record.elapsed_ms >= 0  # type: ignore[attr-defined]
    # Each fact once, under one name.
    assert not {"http_method", "http_path", "http_status", "duration_ms"} & set(vars(record))
    caplog.clear()
    await client.customers.get(created.id)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"GET /customers/{created.id} -> 200"
    ]


async def test_nothing_is_logged_below_info_when_debug_is_off(
    client: ec.Client, fake: FakeEcomCharge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ecomcharge_async")
    await client.customers.create(PERSON)
    assert await client.customers.list() != []
    assert caplog.records == []


class WithCompanion:
    """A per-call middleware that brings its own per-attempt companion."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.attempt_middleware = self._attempt

    async def __call__(self, request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        self.events.append(f"call {request.operation}")
        return await call_next(request)

    async def _attempt(self, request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        self.events.append(f"attempt {request.attempt}")
        return await call_next(request)


async def test_a_per_call_middleware_may_bring_a_companion_run_on_every_attempt(
    fake: FakeEcomCharge,
) -> None:
    events: list[str] = []
    fake.inject(Fault.status(503), Fault.refuse())
    async with ec.Client(
        SHOP_ID,
        SECRET,
        transport=fake.transport(),
        retry=FAST,
        middleware=[WithCompanion(events)],
        attempt_middleware=[Recorder("try", events)],
    ) as client:
        await client.customers.list()
    assert events == [
        "call customers.list",
        "try > GET",
        "attempt 1",
        "try < 503",
        "try > GET",
        "attempt 2",
        "try < ConnectError",
        "try > GET",
        "attempt 3",
        "try < 200",
    ]
