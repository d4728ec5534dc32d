"""Client configuration, credentials, URL safety, lifecycle and timeouts."""

from __future__ import annotations

import asyncio

import pytest

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault

SECRET = "s3cr3t-key-value"


@pytest.fixture
def fake() -> FakeEcomCharge:
    return FakeEcomCharge(shop_id="361", secret_key="s")


def test_credentials_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECOMCHARGE_SHOP_ID", "42")
    monkeypatch.setenv("ECOMCHARGE_SECRET_KEY", SECRET)
    monkeypatch.setenv("ECOMCHARGE_BASE_URL", "https://sandbox.example.com/")
    client = ec.Client()
    assert client.shop_id == "42"
    assert client.base_url == "https://sandbox.example.com"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMCHARGE_SHOP_ID", "42")
    monkeypatch.setenv("ECOMCHARGE_BASE_URL", "https://sandbox.example.com")
    client = ec.Client("361", SECRET, base_url="https://other.example.com")
    assert (client.shop_id, client.base_url) == ("361", "https://other.example.com")


def test_default_base_url() -> None:
    assert ec.Client("361", SECRET).base_url == "https://api.ecomcharge.com"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret_key": SECRET}, "missing shop_id: pass shop_id= or set the ECOMCHARGE_SHOP_ID"),
        ({"shop_id": "361"}, "missing secret_key: pass secret_key= or set the ECOMCHARGE_SECRET"),
        ({"shop_id": "", "secret_key": SECRET}, "missing shop_id"),
        ({"shop_id": "3:61", "secret_key": SECRET}, "must not contain ':'"),
        ({"shop_id": "361\r\nX-Evil: 1", "secret_key": SECRET}, "shop_id contains control"),
        ({"shop_id": "361", "secret_key": SECRET + "\n"}, "secret_key contains control"),
        ({"shop_id": "361", "secret_key": SECRET + "\r"}, "secret_key contains control"),
        ({"shop_id": "361\x00", "secret_key": SECRET}, "shop_id contains control"),
        ({"shop_id": "361", "secret_key": "\x7f" + SECRET}, "secret_key contains control"),
        ({"shop_id": "361", "secret_key": SECRET + "\u2028"}, "secret_key contains control"),
        ({"shop_id": "361", "secret_key": SECRET + "\ud800"}, "secret_key contains control"),
        (
            {"shop_id": "361", "secret_key": SECRET, "timeout": 0},
            "timeout must be a finite number of seconds > 0",
        ),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        ec.Client(**kwargs)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["http://api.ecomcharge.com", "http://10.0.0.5:8080", "http://example.com/"],
)
def test_plain_http_is_refused_unless_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="refusing plain http://"):
        ec.Client("361", SECRET, base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9000", "http://127.9.9.9"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert ec.Client("361", SECRET, base_url=url).base_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("api.ecomcharge.com", "must be an http"),
        ("ftp://api.ecomcharge.com", "must be an http"),
        ("https://", "must be an http"),
        ("https://user:pw@api.ecomcharge.com", "must not contain credentials"),
        ("https://api.ecomcharge.com/?a=1", "must not have a query"),
        ("https://api.ecomcharge.com:99999", "invalid port"),
        ("http://127.0.0.1:http", "invalid port"),
    ],
)
def test_malformed_base_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ec.Client("361", SECRET, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:P4ssw0rd@api.ecomcharge.com",
        "http://user:P4ssw0rd@example.com",
        "https://api.ecomcharge.com/?token=P4ssw0rd",
        "ftp://api.ecomcharge.com/?token=P4ssw0rd",
        "https://api.ecomcharge.com:99999/#P4ssw0rd",
    ],
)
def test_a_refused_base_url_is_never_echoed_with_its_secrets(url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        ec.Client("361", SECRET, base_url=url)
    assert "P4ssw0rd" not in str(info.value)


def test_repr_never_shows_the_secret() -> None:
    client = ec.Client("361", SECRET)
    assert SECRET not in repr(client)
    assert "361" in repr(client)
    assert SECRET not in repr(vars(client))


async def test_use_after_close_raises_runtime_error(fake: FakeEcomCharge) -> None:
    client = ec.Client("361", "s", transport=fake.transport())
    async with client:
        pass
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.customers.list()
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass
    await client.aclose()  # a second close is harmless


async def test_aclose_closes_the_transport(fake: FakeEcomCharge) -> None:
    transport = fake.transport()
    client = ec.Client("361", "s", transport=transport)
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(ec.Request(method="GET", url="http://127.0.0.1/customers"))


async def test_each_attempt_is_bounded_by_the_timeout(fake: FakeEcomCharge) -> None:
    fake.inject(Fault.delay(10))
    async with ec.Client(
        "361", "s", transport=fake.transport(), timeout=0.05, retry=None
    ) as client:
        with pytest.raises(ec.APITimeoutError, match=r"no answer within 0\.05 s"):
            await client.customers.list()
        assert await client.customers.list() == []


async def test_timeout_none_waits_as_long_as_it_takes(fake: FakeEcomCharge) -> None:
    fake.inject(Fault.delay(0.05))
    async with ec.Client("361", "s", transport=fake.transport(), timeout=None) as client:
        assert await client.customers.list() == []


async def test_a_slow_call_does_not_block_others(fake: FakeEcomCharge) -> None:
    release = asyncio.Event()

    async def hold_lists(request: ec.Request, call_next: ec.Handler) -> ec.Response:
        if request.method == "GET":
            await release.wait()  # the slow call: it answers only when the test says so
        return await call_next(request)

    async with ec.Client(
        "361", "s", transport=fake.transport(), attempt_middleware=[hold_lists]
    ) as client:
        slow = asyncio.create_task(client.customers.list())
        await asyncio.sleep(0)
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert not slow.done()
        release.set()
        assert await slow == [created]


async def test_sends_auth_json_and_user_agent_headers(fake: FakeEcomCharge) -> None:
    seen: list[ec.Request] = []

    async def record(request: ec.Request, call_next: ec.Handler) -> ec.Response:
        seen.append(request)
        return await call_next(request)

    async with ec.Client("361", "s", transport=fake.transport(), middleware=[record]) as client:
        await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        await client.customers.list()
    post, get = seen
    assert post.headers["Content-Type"] == "application/json"
    assert "Content-Type" not in get.headers
    assert post.headers["User-Agent"].startswith("ecomcharge-async/")
    assert post.headers["Authorization"].startswith("Basic ")
    assert post.headers["Authorization"] not in repr(post)
    assert (post.method, post.url) == ("POST", "https://api.ecomcharge.com/customers")


async def test_the_default_transport_bounds_each_attempt_over_http(
    fake: FakeEcomCharge,
) -> None:
    from ecomcharge_async.testing import serve

    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    retry = ec.RetryPolicy(sleep=no_sleep)
    async with (
        serve(fake) as url,
        ec.Client("361", "s", base_url=url, timeout=0.1, retry=retry) as client,
    ):
        # Answers that never come in time, so no verdict hangs on how fast the machine is.
        fake.inject(*[Fault.delay(60)] * 3)
        with pytest.raises(ec.APITimeoutError) as info:  # a GET is retried after a timeout
            await client.customers.list()
        assert (info.value.attempts, len(waits)) == (3, 2)
        fake.inject(Fault.delay(60))
        with pytest.raises(ec.APITimeoutError) as info:  # a POST is not replayed
            await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert info.value.attempts == 1
    assert client.timeout == 0.1
