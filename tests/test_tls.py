"""TLS on by default: promise 5 of docs/guides/security.md.

The fake shop over HTTPS on 127.0.0.1 with a certificate from a trustme CA:
the default client refuses it, a client given that CA connects.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import create_app


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextlib.asynccontextmanager
async def _https_fake(fake: FakeEcomCharge, ca: trustme.CA, host: str) -> AsyncIterator[str]:
    """The fake shop over HTTPS on 127.0.0.1, with a certificate for `host` from `ca`."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(server_context)
    runner = web.AppRunner(create_app(fake), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context).start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


NEW = ec.NewCustomer(email="a@example.com", ip="127.0.0.1")


async def test_https_verifies_certificates_by_default(fake: FakeEcomCharge, ca: trustme.CA) -> None:
    async with (
        _https_fake(fake, ca, "127.0.0.1") as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, retry=None) as client,
    ):
        with pytest.raises(ec.ConnectError, match="certificate verify failed"):
            await client.customers.create(NEW)
    assert fake.request_count == 0
    assert fake.customers == []


@pytest.mark.parametrize("how", ["context", "ca bundle file"])
async def test_a_client_given_the_ca_connects(
    fake: FakeEcomCharge, ca: trustme.CA, tmp_path: Path, how: str
) -> None:
    if how == "context":
        context = ssl.create_default_context()
        ca.configure_trust(context)
    else:
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    async with (
        _https_fake(fake, ca, "127.0.0.1") as url,
        ec.Client(
            SHOP_ID, SECRET, base_url=url, transport=ec.AiohttpTransport(ssl=context)
        ) as client,
    ):
        created = await client.customers.create(NEW)
        assert await client.customers.list() == [created]


async def test_a_certificate_for_another_host_is_refused_even_from_a_trusted_ca(
    fake: FakeEcomCharge, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    transport = ec.AiohttpTransport(ssl=context)
    async with (
        _https_fake(fake, ca, "api.ecomcharge.com") as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport, retry=None) as client,
    ):
        with pytest.raises(ec.ConnectError, match="certificate verify failed: IP address mismatch"):
            await client.customers.list()
    assert fake.request_count == 0
