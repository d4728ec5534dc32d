"""The Customers service end to end on the fake, through the public Transport protocol."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable

import pytest

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault

DOCUMENTED = ec.NewCustomer(
    first_name="John",
    last_name="Doe",
    address="1st Street",
    country="US",
    city="Denver",
    zip="92006",
    state="CO",
    phone="+1-555-555-5555",
    email="customer@example.com",
    ip="127.0.0.1",
)


async def test_create_returns_the_customer_with_a_documented_id(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    customer = await client.customers.create(DOCUMENTED)
    assert re.fullmatch(r"cst_[0-9a-f]{16}", customer.id)
    assert customer.email == "customer@example.com"
    assert customer.first_name == "John"
    assert customer.zip == "92006"
    assert fake.customers == [customer]


async def test_get_returns_what_create_returned(client: ec.Client) -> None:
    created = await client.customers.create(DOCUMENTED)
    assert await client.customers.get(created.id) == created


async def test_list_is_in_creation_order(client: ec.Client) -> None:
    emails = [f"user{i}@example.com" for i in range(5)]
    for email in emails:
        await client.customers.create(ec.NewCustomer(email=email, ip="10.0.0.1"))
    assert [c.email for c in await client.customers.list()] == emails


async def test_list_of_an_empty_shop_is_empty(client: ec.Client) -> None:
    assert await client.customers.list() == []


async def test_documented_invalid_example_gives_documented_errors(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    with pytest.raises(ec.ValidationError) as info:
        await client.customers.create(ec.NewCustomer(email="customer@example.com", ip=""))
    assert info.value.status == 422
    assert info.value.errors == {"ip": ["address is invalid", "can't be blank"]}
    assert info.value.message == "Ip address is invalid. Ip can't be blank"
    assert fake.customers == []


async def test_get_unknown_id_is_not_found(client: ec.Client) -> None:
    with pytest.raises(ec.NotFoundError) as info:
        await client.customers.get("cst_0000000000000000")
    assert info.value.status == 404


@pytest.mark.parametrize(
    "bad_id",
    [
        *("", ".", "..", "a/b", "../x", "a?b", "a#b", "a%2Fb", "a\\b"),
        *("a b", "a\tb", "a\nb", "a\x00b", "a\u2028b", "a\u202eb", 123),
    ],
)
async def test_unsafe_customer_ids_are_refused_before_sending(
    client: ec.Client, fake: FakeEcomCharge, bad_id: str
) -> None:
    with pytest.raises(ValueError, match="customer id"):
        await client.customers.get(bad_id)
    assert fake.request_count == 0


async def test_create_takes_only_a_new_customer(client: ec.Client) -> None:
    with pytest.raises(TypeError, match="NewCustomer"):
        await client.customers.create({"email": "a@example.com"})  # type: ignore[arg-type]


async def test_wrong_secret_is_an_authentication_error(fake: FakeEcomCharge) -> None:
    async with ec.Client("361", "wrong", transport=fake.transport()) as client:
        with pytest.raises(ec.AuthenticationError) as info:
            await client.customers.list()
    assert info.value.message == "Unauthorized: You can't have access to this area"
    assert info.value.code == "unauthorized"
    assert "wrong" not in str(info.value)


async def test_the_same_calls_work_over_real_http(
    http_client: ec.Client, fake: FakeEcomCharge
) -> None:
    created = await http_client.customers.create(DOCUMENTED)
    assert await http_client.customers.get(created.id) == created
    assert await http_client.customers.list() == [created]
    with pytest.raises(ec.ValidationError) as info:
        await http_client.customers.create(ec.NewCustomer(email="x@example.com", ip="nope"))
    assert info.value.errors == {"ip": ["address is invalid"]}
    assert fake.customers == [created]


async def _iterate(client: ec.Client) -> list[ec.Customer]:
    return [customer async for customer in client.customers.iter()]


async def test_iter_yields_what_list_returns(client: ec.Client, fake: FakeEcomCharge) -> None:
    for i in range(2500):
        fake.add(email=f"user{i}@example.com", ip="10.0.0.1", city="Minsk")
    assert await _iterate(client) == await client.customers.list() == fake.customers


async def test_iter_over_real_http_yields_what_list_returns(
    http_client: ec.Client, fake: FakeEcomCharge
) -> None:
    for i in range(2500):
        fake.add(email=f"user{i}@example.com", ip="10.0.0.1", phone="+375 29 000 00 00")
    streamed = await _iterate(http_client)
    assert streamed == await http_client.customers.list() == fake.customers
    assert await _iterate(http_client) == streamed  # the connection was released and reused


async def test_iter_of_an_empty_shop(http_client: ec.Client) -> None:
    assert await _iterate(http_client) == []


async def test_iter_retries_before_the_body_streams(
    fake: FakeEcomCharge, make_client: Callable[..., ec.Client]
) -> None:
    fake.add(email="a@example.com", ip="::1")
    fake.inject(Fault.status(503), Fault.refuse())
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    client = make_client(retry=ec.RetryPolicy(sleep=no_sleep))
    assert await _iterate(client) == fake.customers
    assert len(waits) == 2


async def test_iter_raises_api_errors_like_list(fake: FakeEcomCharge) -> None:
    async with ec.Client("361", "wrong", transport=fake.transport()) as client:
        with pytest.raises(ec.AuthenticationError):
            await _iterate(client)


async def test_iter_on_a_transport_without_stream_falls_back_to_send(
    fake: FakeEcomCharge, make_client: Callable[..., ec.Client]
) -> None:
    class PlainTransport:
        def __init__(self) -> None:
            self.inner = fake.transport()

        async def send(self, request: ec.Request) -> ec.Response:
            return await self.inner.send(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    fake.add(email="a@example.com", ip="::1")
    transport = PlainTransport()
    assert not isinstance(transport, ec.StreamingTransport)
    assert await _iterate(make_client(transport=transport)) == fake.customers


async def test_leaving_iter_with_aclosing_releases_the_stream_at_once(
    fake: FakeEcomCharge, make_client: Callable[..., ec.Client]
) -> None:
    released: list[bool] = []

    class RecordingTransport:
        """The fake, recording when a streamed body is closed by its reader."""

        def __init__(self) -> None:
            self.inner = fake.transport()

        async def send(self, request: ec.Request) -> ec.Response:
            return await self.inner.send(request)

        async def stream(self, request: ec.Request) -> ec.Response:
            response = await self.inner.stream(request)
            assert response.chunks is not None
            inner = response.chunks

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in inner:
                        yield chunk
                finally:
                    released.append(True)

            return ec.Response(status=200, headers=response.headers, chunks=chunks())

        async def aclose(self) -> None:
            await self.inner.aclose()

    for n in range(3000):
        fake.add(email=f"user{n}@example.com", ip="10.0.0.1")
    client = make_client(transport=RecordingTransport())
    async with contextlib.aclosing(client.customers.iter()) as customers:
        async for _ in customers:
            break
    assert released == [True]  # no loop tick, no garbage collection needed
