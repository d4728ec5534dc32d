"""Failing fast when the API cannot be reached: the watch over connection failures."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async.cli._reach import ReachWatch, cause
from ecomcharge_async.testing import FakeEcomCharge, Fault


def watched_client(fake: FakeEcomCharge, first: float, later: float) -> tuple[ec.Client, list[str]]:
    stops: list[str] = []
    watch = ReachWatch(
        "https://api.example.test", first_deadline=first, later_deadline=later, on_stop=stops.append
    )
    client = ec.Client(SHOP_ID, SECRET, transport=fake.transport(), retry=None, middleware=[watch])
    return client, stops


async def refused_until_stopped(client: ec.Client, stops: list[str]) -> None:
    """Keep calling while every connection is refused, until the watch stops (5 s at most)."""
    async with asyncio.timeout(5):
        while not stops:
            with pytest.raises(ec.ConnectError):
                await client.customers.list()
            await asyncio.sleep(0)  # let the watch's timer run


async def test_failures_before_any_answer_stop_after_the_first_deadline(
    fake: FakeEcomCharge,
) -> None:
    fake.inject_random(1.0, faults=(Fault.refuse(),))
    client, stops = watched_client(fake, first=0.2, later=60)
    async with client:
        await refused_until_stopped(client, stops)
    [line] = stops
    assert line.startswith("cannot reach https://api.example.test: ")
    assert "attempt" in line


async def test_an_answer_resets_the_watch_and_later_outages_get_the_longer_bound(
    fake: FakeEcomCharge,
) -> None:
    client, stops = watched_client(fake, first=0.05, later=0.3)
    async with client:
        fake.inject(Fault.status(503))
        with pytest.raises(ec.ServerError):
            await client.customers.list()  # any status is an answer
        fake.inject_random(1.0, faults=(Fault.refuse(),))
        loop = asyncio.get_running_loop()
        began = loop.time()
        await refused_until_stopped(client, stops)
        assert loop.time() - began >= 0.3
    assert len(stops) == 1


def failure(under: BaseException) -> ec.ConnectError:
    try:
        try:
            raise under
        except BaseException as exc:
            raise ec.ConnectError("cannot connect") from exc
    except ec.ConnectError as error:
        return error


@pytest.mark.parametrize(
    ("under", "said"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "host name not resolved"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "TLS handshake failed"),
        (TimeoutError(), "connect timed out"),
        (OSError(errno.ENETUNREACH, "unreachable"), "network unreachable"),
        (OSError(errno.EPERM, "odd"), "cannot connect"),
    ],
)
def test_the_cause_is_said_in_a_few_words(under: BaseException, said: str) -> None:
    assert cause(failure(under)) == said
