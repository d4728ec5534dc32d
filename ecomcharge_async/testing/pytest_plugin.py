"""pytest fixtures for apps built on ecomcharge-async; active once the package is installed.

Registered through the `pytest11` entry point, so a project's tests can ask for
`ecomcharge_fake` and `ecomcharge_client` with no conftest and no import.

- `ecomcharge_fake`: a fresh, empty `FakeEcomCharge` (shop `SHOP_ID`, key `SECRET_KEY`).
- `ecomcharge_client`: a `Client` wired to it in process, with the default retry
  policy except that waits between attempts are skipped, so no test sleeps.
- `ecomcharge_sync_client`: the same as a `SyncClient`, for plain (non-async)
  tests of Django or Flask views, scripts and management commands.

The async fixtures run on asyncio (under pytest-asyncio, or anyio's asyncio backend);
aiohttp has no trio support, so a trio test that asks for them fails with one
clear message. pytest loads this module in every run of a project that installs
the package: it imports only pytest here, and the SDK when a fixture is used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .. import Client, SyncClient
    from ._backend import FakeEcomCharge

__all__ = [
    "BASE_URL",
    "SECRET_KEY",
    "SHOP_ID",
    "ecomcharge_client",
    "ecomcharge_fake",
    "ecomcharge_sync_client",
]

#: The credentials the fixtures' fake shop accepts.
SHOP_ID = "361"
SECRET_KEY = "ecomcharge-test-secret"
#: The base URL the fixture client uses; the in-process fake ignores the host.
BASE_URL = "https://api.ecomcharge.com"

ONLY_ASYNCIO = (
    "{fixture} runs on asyncio only (aiohttp has no trio support), but this test runs "
    "on anyio's {backend!r} backend: give it anyio_backend = 'asyncio'"
)


def _async_fixture(func: Callable[..., AsyncIterator[Any]]) -> Any:
    """`pytest_asyncio.fixture` when pytest-asyncio is installed (strict or auto mode).

    Without it, a plain fixture: anyio's pytest plugin runs async fixtures of
    `@pytest.mark.anyio` tests on its own. Looked up, not imported, to keep
    pytest's start fast.
    """
    if importlib.util.find_spec("pytest_asyncio") is None:
        return pytest.fixture(func)
    import pytest_asyncio

    return pytest_asyncio.fixture(func)


def _refuse_other_backends(request: pytest.FixtureRequest, fixture: str) -> None:
    """Fail a test that runs on anyio's trio backend before the SDK crashes in it."""
    if "anyio_backend" not in request.fixturenames:
        return
    backend = request.getfixturevalue("anyio_backend")
    name = backend if isinstance(backend, str) else backend[0]
    if name != "asyncio":
        pytest.fail(ONLY_ASYNCIO.format(fixture=fixture, backend=name), pytrace=False)


async def _no_sleep(seconds: float) -> None:
    """Stands in for `asyncio.sleep` between retries: yields once, never waits."""
    import asyncio

    await asyncio.sleep(0)


@pytest.fixture
def ecomcharge_fake(request: pytest.FixtureRequest) -> FakeEcomCharge:
    """A fresh, empty fake eComCharge shop; inject faults or inspect `.customers`."""
    _refuse_other_backends(request, "ecomcharge_fake")
    from ._backend import FakeEcomCharge

    return FakeEcomCharge(shop_id=SHOP_ID, secret_key=SECRET_KEY)


@_async_fixture
async def ecomcharge_client(ecomcharge_fake: FakeEcomCharge) -> AsyncIterator[Client]:
    """A `Client` talking to `ecomcharge_fake` in process, closed after the test."""
    from .. import Client, RetryPolicy

    async with Client(
        SHOP_ID,
        SECRET_KEY,
        base_url=BASE_URL,
        transport=ecomcharge_fake.transport(),
        retry=RetryPolicy(sleep=_no_sleep),
    ) as client:
        yield client


@pytest.fixture
def ecomcharge_sync_client(ecomcharge_fake: FakeEcomCharge) -> Iterator[SyncClient]:
    """A `SyncClient` talking to `ecomcharge_fake` in process, closed after the test."""
    from .. import RetryPolicy, SyncClient

    with SyncClient(
        SHOP_ID,
        SECRET_KEY,
        base_url=BASE_URL,
        transport=ecomcharge_fake.transport(),
        retry=RetryPolicy(sleep=_no_sleep),
    ) as client:
        yield client
