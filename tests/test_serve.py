"""`python -m ecomcharge_async.testing serve`: the fake shop over HTTP in a child process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable

import aiohttp
import pytest
import yarl
from conftest import ServerProcess

import ecomcharge_async as ec
from ecomcharge_async.testing import Fault
from ecomcharge_async.testing.__main__ import FAULTS, build_parser, make_fake


async def test_it_prints_its_url_and_serves_the_fake_shop(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--shop-id", "42", "--secret-key", "k", "--customers", "3")
    async with ec.Client("42", "k", base_url=server.url) as client:
        existing = await client.customers.list()
        assert [c.email for c in existing] == [f"existing{n}@example.com" for n in range(3)]
        created = await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
        assert await client.customers.get(created.id) == created
    async with ec.Client("42", "wrong", base_url=server.url) as client:
        with pytest.raises(ec.AuthenticationError):
            await client.customers.list()


async def test_faults_and_latency_apply(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(
        "--secret-key", "k", "--fault-rate", "1", "--faults", "503", "--latency", "0.01"
    )
    async with ec.Client("361", "k", base_url=server.url, retry=None) as client:
        with pytest.raises(ec.ServerError) as excinfo:
            await client.customers.list()
    assert excinfo.value.status == 503


async def test_it_answers_off_contract_requests_in_json(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--secret-key", "k")
    auth = {"Authorization": aiohttp.encode_basic_auth("361", "k")}
    async with aiohttp.ClientSession() as session:
        newline = yarl.URL(server.url + "/customers/cst_1%0A", encoded=True)
        async with session.get(newline, headers=auth) as response:
            assert (response.status, response.content_type) == (404, "application/json")
            assert await response.json() == {"message": "Customer not found"}
        async with session.delete(server.url + "/customers", headers=auth) as response:
            assert (response.status, response.headers["Allow"]) == (405, "GET, POST")
        async with session.post(server.url + "/customers", headers=auth, data=b"{") as response:
            reason = "Content-Type must be application/json"
            assert response.status == 422
            assert json.loads(await response.read())["errors"] == {"base": [reason]}


def test_sigterm_stops_it_cleanly(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0


def test_the_faults_option_names_the_default_random_faults() -> None:
    assert list(FAULTS) == ["drop", "refuse", "429", "500", "502", "503", "504"]
    args = build_parser().parse_args(
        ["serve", "--fault-rate", "0.5", "--faults", "drop,504", "--seed", "1"]
    )
    assert args.faults == (Fault.drop(), Fault.status(504))
    fake = make_fake(args)
    assert {fake.faults.next() for _ in range(200)} == {None, Fault.drop(), Fault.status(504)}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--faults", "drop,418"], "unknown fault 418; choose from drop, refuse, 429"),
        (["--fault-rate", "1.5"], "must be between 0 and 1"),
        (["--latency", "-1"], "must be a finite number of seconds >= 0"),
    ],
)
def test_bad_options_exit_2_with_a_message(args: list[str], problem: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ecomcharge_async.testing", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert problem in result.stderr
