"""examples/aiohttp_app.py served on 127.0.0.1, with a fake eComCharge behind it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ecomcharge_async.testing import FakeEcomCharge, Fault

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


aiohttp_app = _load("aiohttp_app")


@pytest.fixture
def fake() -> FakeEcomCharge:
    return FakeEcomCharge(shop_id="361", secret_key="s", seed=5)


@pytest.fixture
async def app_client(fake: FakeEcomCharge) -> AsyncIterator[TestClient[object, object]]:
    app = aiohttp_app.create_app(transport=fake.transport(), shop_id="361", secret_key="s")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_signup_creates_the_customer_with_the_callers_ip(
    app_client: TestClient[object, object], fake: FakeEcomCharge
) -> None:
    response = await app_client.post(
        "/signup", json={"email": "a@example.com", "country": "US", "state": "CO"}
    )
    assert response.status == 201
    body = await response.json()
    assert body["ip"] == "127.0.0.1"
    [stored] = fake.customers
    assert (stored.id, stored.email, stored.state) == (body["id"], "a@example.com", "CO")


async def test_get_returns_the_stored_customer(
    app_client: TestClient[object, object], fake: FakeEcomCharge
) -> None:
    stored = fake.add(email="old@example.com", ip="10.0.0.1")
    response = await app_client.get(f"/customers/{stored.id}")
    assert response.status == 200
    assert await response.json() == {"id": stored.id, "email": "old@example.com", "ip": "10.0.0.1"}


@pytest.mark.parametrize("customer_id", ["cst_0000000000000000", "a%2Fb", "a b"])
async def test_unknown_or_unsafe_ids_are_404(
    app_client: TestClient[object, object], customer_id: str
) -> None:
    response = await app_client.get(f"/customers/{customer_id}")
    assert response.status == 404
    assert await response.json() == {"error": "no such customer"}


async def test_the_apis_validation_errors_reach_the_caller(
    app_client: TestClient[object, object], fake: FakeEcomCharge
) -> None:
    response = await app_client.post("/signup", json={"email": "a@example.com", "country": "US"})
    assert response.status == 422
    assert (await response.json())["errors"] == {"state": ["can't be blank"]}
    assert fake.customers == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "must be JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"email": "a@example.com", "ip": "1.2.3.4"}', "unknown fields: ip"),
        (b'{"email": 1}', "must be a string"),
    ],
)
async def test_bad_signup_bodies_are_400(
    app_client: TestClient[object, object], fake: FakeEcomCharge, body: bytes, message: str
) -> None:
    response = await app_client.post("/signup", data=body)
    assert response.status == 400
    assert message in (await response.json())["error"]
    assert fake.request_count == 0


@pytest.mark.parametrize("fault", [Fault.status(500), Fault.drop()], ids=["500", "dropped"])
async def test_an_unconfirmed_create_is_a_502_and_is_not_resent(
    app_client: TestClient[object, object], fake: FakeEcomCharge, fault: Fault
) -> None:
    fake.inject(fault)
    response = await app_client.post("/signup", json={"email": "a@example.com"})
    assert response.status == 502
    assert "did not confirm" in (await response.json())["error"]
    assert fake.request_count == 1


async def test_one_client_serves_every_request_and_closes_with_the_app(
    fake: FakeEcomCharge,
) -> None:
    app = aiohttp_app.create_app(transport=fake.transport(), shop_id="361", secret_key="s")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        shared = app[aiohttp_app.CLIENT]
        for email in ("a@example.com", "b@example.com"):
            assert (await client.post("/signup", json={"email": email})).status == 201
        assert app[aiohttp_app.CLIENT] is shared
        assert not shared.closed
    assert shared.closed


bulk_example = _load("bulk_import")


async def test_the_bulk_example_imports_the_example_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert await bulk_example.main([str(EXAMPLES / "customers.csv"), "--fake"]) == 1
    assert capsys.readouterr().out == "1000 rows: 992 created, 8 rejected, 0 failed\n"
    failures = (tmp_path / "failures.jsonl").read_text().splitlines()
    assert len(failures) == 8
    assert all('"status": "rejected"' in line and '"errors": {' in line for line in failures)


async def test_the_bulk_example_keeps_a_journal_for_a_real_shop(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    from ecomcharge_async import Client

    path = tmp_path / "few.csv"
    path.write_text("email,ip\na@example.com,10.0.0.1\nb@example.com,10.0.0.2\n")
    async with Client("361", "s", transport=fake.transport(), retry=None) as client:
        report = await bulk_example.run(
            str(path), client, journal=str(tmp_path / "j"), failures_path=str(tmp_path / "f")
        )
        again = await bulk_example.run(
            str(path), client, journal=str(tmp_path / "j"), failures_path=str(tmp_path / "f")
        )
    assert (report.created, again.created, again.resumed) == (2, 2, 2)
    assert len(fake.customers) == 2
