"""The Customers service end to end on the fake, through the public Transport protocol."""

from __future__ import annotations

import re

import pytest

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge

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
    "bad_id", ["", "a/b", "../x", "a?b", "a#b", "a b", "a\tb", "a\nb", ".", "..", "a%2Fb"]
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
    assert info.value.message == "Invalid shop_id/secret_key."
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
