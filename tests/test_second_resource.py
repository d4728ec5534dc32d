"""The proof of shape: a resource defined only in tests runs every kind of call on every transport.

`plans_model.py` and `plans_resource.py` are all a second resource needs in
the package (plus one line in `Client` and its exports); the fake serves its
routes through `FakeEcomCharge.route`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import HTTP_KINDS, SECRET, SHOP_ID, http_transport
from plans_model import NewPlan, Plan
from plans_resource import Plans
from test_request import Seen

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault, serve

_JSON = {"Content-Type": "application/json"}


class PlanRoutes:
    """The fake's answers for /plans: create, get one, list them all."""

    def __init__(self) -> None:
        self.plans: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def __call__(self, request: ec.Request) -> ec.Response:
        path = urlsplit(request.url).path.rstrip("/")
        if path == "/plans" and request.method == "POST":
            data = json.loads(request.body)
            if not isinstance(data.get("amount"), int) or data["amount"] <= 0:
                return self._answer(422, {"message": "invalid", "errors": {"amount": ["> 0"]}})
            plan = {"id": f"pln_{next(self._ids)}", "currency": "EUR", **data}
            self.plans[plan["id"]] = plan
            return self._answer(201, plan)
        if path == "/plans" and request.method == "GET":
            return self._answer(200, list(self.plans.values()))
        found = self.plans.get(path.removeprefix("/plans/"))
        if request.method == "GET" and found is not None:
            return self._answer(200, found)
        return self._answer(404, {"message": "Plan not found"})

    @staticmethod
    def _answer(status: int, payload: Any) -> ec.Response:
        return ec.Response(status=status, headers=_JSON, body=json.dumps(payload).encode())


@contextlib.asynccontextmanager
async def plans_client(kind: str, fake: FakeEcomCharge, **options: Any) -> AsyncIterator[Any]:
    """A client on `kind` ("fake", "aiohttp", "httpx") and its `Plans`, with the fake's routes."""
    fake.route("/plans", PlanRoutes())
    if kind == "fake":
        async with ec.Client(SHOP_ID, SECRET, transport=fake.transport(), **options) as client:
            yield client, Plans(client._requester)
        return
    async with serve(fake) as url:
        transport = http_transport(kind)
        async with ec.Client(
            SHOP_ID, SECRET, base_url=url, transport=transport, **options
        ) as client:
            yield client, Plans(client._requester)


@pytest.mark.parametrize("kind", ["fake", *HTTP_KINDS])
async def test_a_second_resource_creates_gets_lists_iterates_and_answers_raw(
    kind: str, fake: FakeEcomCharge
) -> None:
    seen = Seen()
    async with plans_client(kind, fake, attempt_middleware=[seen]) as (client, plans):
        gold = await plans.create(NewPlan(title="Gold", amount=1000))
        silver = await plans.create(NewPlan(title="Silver", amount=500, currency="USD"))
        assert gold == Plan(id="pln_1", title="Gold", amount=1000, currency="EUR")
        assert await plans.get(silver.id) == silver
        assert await plans.list() == [gold, silver]
        assert [plan async for plan in plans.iter()] == [gold, silver]
        raw = await plans.get_raw(gold.id)
        assert (raw.status, raw.parse()) == (200, gold)
        # The generic request reads the same endpoint, into the same model.
        assert await client.request("GET", "/plans", cast=list[Plan]) == [gold, silver]
        with pytest.raises(ec.ValidationError) as info:
            await plans.create(NewPlan(title="Free", amount=0))
        assert info.value.errors == {"amount": ["> 0"]}
        with pytest.raises(ec.NotFoundError):
            await plans.get("pln_404")
    assert [(r.operation, r.route) for r in seen.requests[:6]] == [
        ("plans.create", "/plans"),
        ("plans.create", "/plans"),
        ("plans.get", "/plans/{plan_id}"),
        ("plans.list", "/plans"),
        ("plans.iter", "/plans"),
        ("plans.get", "/plans/{plan_id}"),
    ]
    assert fake.customers == []  # the customers' routes were not touched


async def no_sleep(seconds: float) -> None:
    """Retries here wait for nothing."""


async def test_a_second_resource_gets_the_same_retry_rules(fake: FakeEcomCharge) -> None:
    retry = ec.RetryPolicy(sleep=no_sleep)
    async with plans_client("fake", fake, retry=retry) as (_, plans):
        fake.inject(Fault.status(503), Fault.drop())
        assert await plans.list() == []  # a GET is replayed after a lost answer
        fake.inject(Fault.drop())
        with pytest.raises(ec.APIConnectionError) as info:
            await plans.create(NewPlan(title="Gold", amount=1000))
        assert info.value.attempts == 1  # a POST that may have landed is not
        assert len(await plans.list()) == 1


def test_a_route_is_one_top_level_segment(fake: FakeEcomCharge) -> None:
    for bad in ("plans", "/plans/", "/a/b", "/"):
        with pytest.raises(ValueError, match="one path segment"):
            fake.route(bad, PlanRoutes())
