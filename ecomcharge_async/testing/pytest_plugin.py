"""pytest fixtures for apps built on ecomcharge-async; active once the package is installed.

Registered through the `pytest11` entry point, so a project's tests can ask for
`ecomcharge_fake` and `ecomcharge_client` with no conftest and no import.

- `ecomcharge_fake`: a fresh, empty `FakeEcomCharge` (shop `SHOP_ID`, key `SECRET_KEY`).
- `ecomcharge_client`: a `Client` wired to it in process, with the default retry
  policy except that waits between attempts are skipped, so no test sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import ecomcharge_async

from ._backend import FakeEcomCharge

#: The credentials the fixtures' fake shop accepts.
SHOP_ID = "361"
SECRET_KEY = "ecomcharge-test-secret"
#: The base URL the fixture client uses; the in-process fake ignores the host.
BASE_URL = "https://api.ecomcharge.com"


def _async_fixture(func: Callable[..., AsyncIterator[Any]]) -> Any:
    """`pytest_asyncio.fixture` when pytest-asyncio is installed (strict or auto mode).

    Without it, a plain fixture: anyio's pytest plugin runs async fixtures of
    `@pytest.mark.anyio` tests on its own.
    """
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture(func)
    return pytest_asyncio.fixture(func)


async def _no_sleep(seconds: float) -> None:
    """Stands in for `asyncio.sleep` between retries: yields once, never waits."""
    await asyncio.sleep(0)


@pytest.fixture
def ecomcharge_fake() -> FakeEcomCharge:
    """A fresh, empty fake eComCharge shop; inject faults or inspect `.customers`."""
    return FakeEcomCharge(shop_id=SHOP_ID, secret_key=SECRET_KEY)


@_async_fixture
async def ecomcharge_client(
    ecomcharge_fake: FakeEcomCharge,
) -> AsyncIterator[ecomcharge_async.Client]:
    """A `Client` talking to `ecomcharge_fake` in process, closed after the test."""
    async with ecomcharge_async.Client(
        SHOP_ID,
        SECRET_KEY,
        base_url=BASE_URL,
        transport=ecomcharge_fake.transport(),
        retry=ecomcharge_async.RetryPolicy(sleep=_no_sleep),
    ) as client:
        yield client
