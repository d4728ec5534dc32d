"""RetryPolicy and the retry middleware: the pure decisions as tables, then behaviour via Client."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async._core.retry import RetryDecision, backoff, decide, is_retryable
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import serve

NEW = ec.NewCustomer(email="retry@example.com", ip="10.0.0.1")
IDEMPOTENT = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "get"]
NOT_IDEMPOTENT = ["POST", "PATCH", "post"]
NOW = 1_700_000_000.0


def response(status: int, **headers: str) -> ec.Response:
    return ec.Response(status=status, headers=headers)


class Sleeps(list[float]):
    """An injected `sleep` that records the waits and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def retrying(fake: FakeEcomCharge, sleeps: Sleeps) -> AsyncIterator[ec.Client]:
    """A client on the fake whose retries record their waits instead of sleeping."""
    policy = ec.RetryPolicy(sleep=sleeps)
    async with ec.Client(SHOP_ID, SECRET, transport=fake.transport(), retry=policy) as client:
        yield client


# -- the policy object ----------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    policy = ec.RetryPolicy()
    assert (policy.max_attempts, policy.initial_backoff, policy.max_backoff) == (3, 0.5, 8.0)
    assert (policy.max_retry_after, policy.deadline) == (60.0, None)
    assert policy.sleep is asyncio.sleep
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_attempts = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts must be >= 1"),
        ({"max_attempts": 2.5}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int"),
        ({"initial_backoff": -0.1}, ValueError, "initial_backoff must be a finite"),
        ({"max_backoff": float("inf")}, ValueError, "max_backoff must be a finite"),
        (
            {"max_backoff": "8"},
            TypeError,
            "max_backoff must be a finite number of seconds > 0, got str",
        ),
        (
            {"max_backoff": True},
            TypeError,
            "max_backoff must be a finite number of seconds > 0, got bool",
        ),
        (
            {"max_backoff": None},
            TypeError,
            "max_backoff must be a finite number of seconds > 0, got None",
        ),
        (
            {"initial_backoff": 0},
            ValueError,
            "initial_backoff must be a finite number of seconds > 0, got 0.0",
        ),
        ({"max_retry_after": float("nan")}, ValueError, "max_retry_after must be a finite"),
        ({"max_retry_after": 0.0}, ValueError, "max_retry_after must be a finite"),
        (
            {"deadline": 0},
            ValueError,
            r"deadline must be a finite number of seconds > 0, or None, got 0.0",
        ),
        ({"deadline": -1.0}, ValueError, "deadline"),
        ({"deadline": float("inf")}, ValueError, "deadline must be a finite number"),
        (
            {"deadline": "30"},
            TypeError,
            "deadline must be a finite number of seconds > 0, or None, got str",
        ),
        ({"sleep": 1.0}, TypeError, "sleep must be an async callable"),
        (
            {"sleep": time.sleep},
            TypeError,
            r"sleep must be an async callable .*got builtin_function",
        ),
        (
            {"sleep": lambda seconds: None},
            TypeError,
            "sleep must be an async callable .*got function",
        ),
        ({"sleep": lambda seconds: asyncio.sleep(seconds)}, TypeError, "sleep must be an async"),
        ({"sleep": functools.partial(time.sleep)}, TypeError, "sleep must be an async .*partial"),
        (
            {"initial_backoff": 100, "max_backoff": 1},
            ValueError,
            r"initial_backoff \(100 s\) must not exceed max_backoff \(1 s\)",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ec.RetryPolicy(**kwargs)


class AsyncCallable:
    async def __call__(self, seconds: float) -> None:
        pass


@pytest.mark.parametrize(
    "sleep",
    [
        asyncio.sleep,
        AsyncCallable(),
        functools.partial(asyncio.sleep),
        functools.partial(AsyncCallable()),
        functools.partial(functools.partial(AsyncCallable())),
        AsyncCallable().__call__,
        Sleeps(),
    ],
    ids=[
        "asyncio.sleep",
        "async __call__",
        "partial",
        "partial of an object",
        "nested partial",
        "bound __call__",
        "recorder",
    ],
)
def test_awaitable_sleeps_are_accepted(sleep: Any) -> None:
    assert ec.RetryPolicy(sleep=sleep).sleep is sleep


def test_equal_backoffs_are_accepted() -> None:
    policy = ec.RetryPolicy(initial_backoff=2, max_backoff=2, deadline=1)
    assert (policy.initial_backoff, policy.max_backoff, policy.deadline) == (2, 2, 1)


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ec.RetryPolicy(5)  # type: ignore[misc]


# -- is this outcome retryable for this method? (DESIGN.md's table, row by row) ----------

EVERY_METHOD = [ec.ConnectError("refused"), response(408), response(429), response(503)]
IDEMPOTENT_ONLY = [
    ec.APIConnectionError("reset"),
    ec.APITimeoutError("slow"),
    response(500),
    response(502),
    response(504),
]
NEVER = [
    response(400),
    response(401),
    response(404),
    response(409),
    response(422),
    response(501),
    response(505),
    ec.DecodeError("bad json"),
    ValueError("not ours"),
]


@pytest.mark.parametrize("outcome", EVERY_METHOD, ids=repr)
@pytest.mark.parametrize("method", IDEMPOTENT + NOT_IDEMPOTENT)
def test_retried_for_every_method(method: str, outcome: Any) -> None:
    assert is_retryable(method, outcome)


@pytest.mark.parametrize("outcome", IDEMPOTENT_ONLY, ids=repr)
@pytest.mark.parametrize("method", IDEMPOTENT + NOT_IDEMPOTENT)
def test_ambiguous_failures_retried_only_for_idempotent_methods(method: str, outcome: Any) -> None:
    assert is_retryable(method, outcome) is (
        method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
    )


@pytest.mark.parametrize("outcome", NEVER, ids=repr)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_never_retried(method: str, outcome: Any) -> None:
    assert not is_retryable(method, outcome)


# -- how long to wait -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "retry", "rand", "expected"),
    [
        (ec.RetryPolicy(), 1, 0.0, 0.25),  # d = 0.5: [0.25, 0.5]
        (ec.RetryPolicy(), 1, 0.999999, 0.5),
        (ec.RetryPolicy(), 2, 0.5, 0.75),  # d = 1.0
        (ec.RetryPolicy(), 4, 0.0, 2.0),  # d = 4.0
        (ec.RetryPolicy(), 5, 1.0, 8.0),  # d = 8.0 = max_backoff exactly
        (ec.RetryPolicy(), 6, 0.0, 4.0),  # capped: d stays 8
        (ec.RetryPolicy(), 60, 1.0, 8.0),  # no overflow far past the cap
        (ec.RetryPolicy(initial_backoff=1.0, max_backoff=3.0), 3, 1.0, 3.0),
        (ec.RetryPolicy(initial_backoff=0.001), 3, 0.5, 0.003),
    ],
)
def test_backoff_is_uniform_between_half_and_whole_capped_doubling(
    policy: ec.RetryPolicy, retry: int, rand: float, expected: float
) -> None:
    assert backoff(policy, retry, rand) == pytest.approx(expected, abs=1e-5)


def test_backoff_counts_retries_from_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff(ec.RetryPolicy(), 0, 0.5)


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def first_wait(status: int, headers: dict[str, str]) -> RetryDecision:
    """The default policy's decision after a first GET answered `status`, at NOW, no jitter."""
    outcome = response(status, **headers)
    return decide(ec.RetryPolicy(), "GET", outcome, attempts=1, elapsed=0.0, rand=0.0, now=NOW)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"retry-after": "7"}, 7.0),  # any header case
        ({"Retry-After": "60"}, 60.0),  # exactly the cap: honoured
        ({"Retry-After": http_date(NOW + 30)}, 30.0),
        ({"Retry-After": http_date(NOW + 60)}, 60.0),
        ({"Retry-After": http_date(NOW - 3600)}, 0.0),  # a date in the past: at once
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the precise one wins
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),  # garbage ms: the standard one
        # Garbage or missing: the jittered backoff (0.25 s with rand=0 before retry 1).
        ({}, 0.25),
        ({"Retry-After": "soon"}, 0.25),
        ({"Retry-After": ""}, 0.25),
        ({"Retry-After": "nan"}, 0.25),
        ({"Retry-After": "inf"}, 0.25),
        ({"Retry-After": "Wed, 99 Foo 2015 07:28:00 GMT"}, 0.25),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 -0000"}, 0.25),  # no usable zone
        ({"retry-after-ms": "-5"}, 0.25),
    ],
    ids=repr,
)
def test_wait_honours_the_server_then_falls_back_to_backoff(
    headers: dict[str, str], expected: float
) -> None:
    assert first_wait(503, headers).wait == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "60.001"},
        {"Retry-After": "3600"},
        {"Retry-After": http_date(NOW + 61)},
        {"retry-after-ms": "60001"},
    ],
    ids=repr,
)
def test_retry_after_above_the_cap_stops_at_once(headers: dict[str, str]) -> None:
    decision = first_wait(429, headers)
    assert decision.wait is None
    assert "above max_retry_after 60 s" in decision.reason


def test_the_cap_is_configurable() -> None:
    policy = ec.RetryPolicy(max_retry_after=120.0)
    late = response(429, **{"Retry-After": "90"})
    assert decide(policy, "POST", late, attempts=1, elapsed=0.0, rand=0.0).wait == 90.0


@pytest.mark.parametrize(
    ("max_attempts", "attempts", "retries"),
    [(3, 1, True), (3, 2, True), (3, 3, False), (1, 1, False), (5, 4, True), (5, 5, False)],
)
def test_max_attempts_counts_the_first_attempt(
    max_attempts: int, attempts: int, retries: bool
) -> None:
    policy = ec.RetryPolicy(max_attempts=max_attempts)
    decision = decide(policy, "GET", response(503), attempts=attempts, elapsed=0.0, rand=0.0)
    assert (decision.wait is not None) is retries


@pytest.mark.parametrize(
    ("elapsed", "retry_after", "retries"),
    [
        (0.0, "4.9", True),
        (0.09, "4.9", True),  # ends at 4.99 < 5
        (0.1, "4.9", False),  # would end exactly at the deadline: no time left to try
        (1.0, "4.9", False),  # would cross it
        (5.0, "0", False),  # already there
        (4.99, "0", True),
    ],
)
def test_no_wait_starts_that_would_reach_the_deadline(
    elapsed: float, retry_after: str, retries: bool
) -> None:
    policy = ec.RetryPolicy(deadline=5.0)
    outcome = response(503, **{"Retry-After": retry_after})
    decision = decide(policy, "GET", outcome, attempts=1, elapsed=elapsed, rand=0.0)
    assert (decision.wait is not None) is retries
    if not retries:
        assert "deadline" in decision.reason


@pytest.mark.parametrize(
    ("method", "outcome", "reason"),
    [
        ("GET", response(200), "HTTP 200 succeeded"),
        ("GET", response(404), "HTTP 404 is not retried"),
        ("POST", response(500, **{"Retry-After": "1"}), "may have reached the server"),
        ("POST", ec.APITimeoutError("slow"), "APITimeoutError: a POST that may have reached"),
    ],
)
def test_stops_name_their_reason(method: str, outcome: Any, reason: str) -> None:
    decision = decide(ec.RetryPolicy(), method, outcome, attempts=1, elapsed=0.0, rand=0.0)
    assert decision.wait is None
    assert reason in decision.reason


# -- behaviour through Client on the fake ------------------------------------------------


async def test_get_survives_a_503(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.add(email="kept@example.com", ip="10.0.0.1")
    fake.inject(Fault.status(503, body=b"<html>maintenance</html>"))
    assert [c.email for c in await retrying.customers.list()] == ["kept@example.com"]
    assert fake.request_count == 2
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] <= 0.5


async def test_429_waits_exactly_what_the_server_said(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.status(429, retry_after=3), Fault.status(503, retry_after="0.5"))
    created = await retrying.customers.create(NEW)  # 429 and 503 are retried even for POST
    assert sleeps == [3.0, 0.5]
    assert fake.customers == [created]


async def test_429_with_an_http_date_waits_until_then(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.status(429, retry_after=http_date(time.time() + 30)))
    await retrying.customers.list()
    assert len(sleeps) == 1
    assert 28.0 < sleeps[0] <= 30.0  # whole seconds on the wire, the clock moved on


async def test_retry_after_above_the_cap_raises_at_once(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.status(429, retry_after=120))
    with pytest.raises(ec.RateLimitError) as info:
        await retrying.customers.list()
    assert info.value.retry_after == 120.0
    assert info.value.attempts == 1
    assert sleeps == []
    assert fake.request_count == 1


async def test_post_after_a_dropped_response_is_not_replayed(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.drop())
    with pytest.raises(ec.APIConnectionError) as info:
        await retrying.customers.create(NEW)
    assert type(info.value) is ec.APIConnectionError
    assert info.value.attempts == 1
    assert [c.email for c in fake.customers] == [NEW.email]  # stored once, answer lost
    assert fake.request_count == 1
    assert sleeps == []


async def test_post_after_a_refused_connection_is_retried_and_creates_one(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.refuse())
    created = await retrying.customers.create(NEW)
    assert fake.customers == [created]
    assert fake.request_count == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_after_an_ambiguous_5xx_is_not_replayed(
    retrying: ec.Client, fake: FakeEcomCharge, status: int
) -> None:
    fake.inject(Fault.status(status))
    with pytest.raises(ec.ServerError) as info:
        await retrying.customers.create(NEW)
    assert (info.value.status, info.value.attempts) == (status, 1)
    assert fake.request_count == 1


@pytest.mark.parametrize("status", [500, 502, 504, 408])
async def test_get_after_an_ambiguous_5xx_is_retried(
    retrying: ec.Client, fake: FakeEcomCharge, status: int
) -> None:
    fake.inject(Fault.status(status))
    assert await retrying.customers.list() == []
    assert fake.request_count == 2


async def test_exhausted_retries_raise_the_last_error_with_attempts(
    retrying: ec.Client, fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.status(500), Fault.status(502), Fault.status(503), Fault.status(504))
    with pytest.raises(ec.ServerError) as info:
        await retrying.customers.list()
    assert (info.value.status, info.value.attempts) == (503, 3)
    assert fake.request_count == 3
    assert [0.25 <= sleeps[0] <= 0.5, 0.5 <= sleeps[1] <= 1.0] == [True, True]


async def test_exhausted_connection_retries_raise_connect_error(
    retrying: ec.Client, fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.refuse(), Fault.refuse(), Fault.refuse())
    with pytest.raises(ec.ConnectError) as info:
        await retrying.customers.create(NEW)
    assert info.value.attempts == 3
    assert fake.customers == []


async def test_the_final_answer_counts_earlier_attempts(
    retrying: ec.Client, fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.status(503))
    with pytest.raises(ec.NotFoundError) as info:
        await retrying.customers.get("cst_0000000000000000")
    assert info.value.attempts == 2


async def test_a_first_time_error_has_one_attempt(retrying: ec.Client) -> None:
    with pytest.raises(ec.ValidationError) as info:
        await retrying.customers.create(ec.NewCustomer(email="x@example.com", ip=""))
    assert info.value.attempts == 1
    assert ec.EcomChargeError.attempts == 1  # set on the instance, never the class


@pytest.mark.parametrize("retry", [None, ec.RetryPolicy(max_attempts=1)])
async def test_retries_can_be_turned_off(
    fake: FakeEcomCharge, retry: ec.RetryPolicy | None
) -> None:
    fake.inject(Fault.status(503))
    async with ec.Client(SHOP_ID, SECRET, transport=fake.transport(), retry=retry) as client:
        with pytest.raises(ec.ServerError) as info:
            await client.customers.list()
    assert info.value.attempts == 1
    assert fake.request_count == 1


def test_retry_must_be_a_policy() -> None:
    with pytest.raises(TypeError, match="retry must be a RetryPolicy or None, got int"):
        ec.Client(SHOP_ID, SECRET, retry=3)  # type: ignore[arg-type]


# -- timeouts and the deadline -----------------------------------------------------------


def timing_out(fake: FakeEcomCharge, sleeps: Sleeps) -> ec.Client:
    """A client whose first attempt waits 0.05 s for an answer that takes 5 s."""
    fake.inject(Fault.delay(5.0))
    policy = ec.RetryPolicy(sleep=sleeps)
    return ec.Client(SHOP_ID, SECRET, transport=fake.transport(), retry=policy, timeout=0.05)


async def test_a_slow_server_times_out_and_get_is_retried(
    fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    async with timing_out(fake, sleeps) as client:
        assert await client.customers.list() == []
    assert fake.request_count == 2
    assert len(sleeps) == 1


async def test_a_slow_server_times_out_and_post_is_not_replayed(
    fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    async with timing_out(fake, sleeps) as client:
        with pytest.raises(ec.APITimeoutError) as info:
            await client.customers.create(NEW)
    assert info.value.attempts == 1
    assert fake.request_count == 1
    assert sleeps == []


async def test_the_deadline_stops_waits_that_would_cross_it(
    fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(*[Fault.status(503, retry_after=2)] * 3)
    policy = ec.RetryPolicy(deadline=3.0, sleep=sleeps)
    async with ec.Client(SHOP_ID, SECRET, transport=fake.transport(), retry=policy) as client:
        with pytest.raises(ec.ServerError) as info:
            await client.customers.list()
    assert info.value.attempts == 2
    assert sleeps == [2.0]  # the second 2 s wait would have ended past 3 s


async def test_the_deadline_bounds_the_attempt_in_flight(fake: FakeEcomCharge) -> None:
    fake.inject(Fault.delay(5.0))
    policy = ec.RetryPolicy(deadline=0.05)
    async with ec.Client(
        SHOP_ID, SECRET, transport=fake.transport(), retry=policy, timeout=None
    ) as client:
        with pytest.raises(ec.APITimeoutError, match=r"deadline of 0\.05 s") as info:
            await client.customers.list()
    assert info.value.attempts == 1


# -- the same over real HTTP on loopback ---------------------------------------------------


async def test_503_then_201_over_a_real_aiohttp_server(
    fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(
        Fault.status(503, body=b"<html><h1>503 Service Unavailable</h1></html>"),
        Fault.status(429, retry_after=1),
    )
    async with (
        serve(fake) as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, retry=ec.RetryPolicy(sleep=sleeps)) as client,
    ):
        created = await client.customers.create(NEW)
        assert re.fullmatch(r"cst_[0-9a-f]{16}", created.id)
        fake.inject(*[Fault.status(503)] * 3)
        with pytest.raises(ec.ServerError) as info:
            await client.customers.get(created.id)
    assert fake.customers == [created]
    assert info.value.attempts == 3
    assert fake.request_count == 6
    assert sleeps[1] == 1.0
    assert len(sleeps) == 4


async def test_post_after_a_real_dropped_connection_is_not_replayed(
    fake: FakeEcomCharge, sleeps: Sleeps
) -> None:
    fake.inject(Fault.drop())
    async with (
        serve(fake) as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, retry=ec.RetryPolicy(sleep=sleeps)) as client,
    ):
        with pytest.raises(ec.APIConnectionError) as info:
            await client.customers.create(NEW)
    assert info.value.attempts == 1
    assert [c.email for c in fake.customers] == [NEW.email]
    assert sleeps == []
