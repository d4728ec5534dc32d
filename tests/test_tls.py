"""TLS on by default: promise 5 of docs/guides/security.md.

The fake shop over HTTPS on 127.0.0.1 with a certificate from a trustme CA:
the default client refuses it, a client given that CA connects; through each
HTTP transport (`ssl=` for aiohttp, `verify=` for httpx).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from conftest import HTTP_KINDS, SECRET, SHOP_ID, http_transport

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import create_app, run_app


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextlib.asynccontextmanager
async def _https_fake(fake: FakeEcomCharge, ca: trustme.CA, host: str) -> AsyncIterator[str]:
    """The fake shop over HTTPS on 127.0.0.1, with a certificate for `host` from `ca`."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(server_context)
    async with run_app(create_app(fake), ssl_context=server_context, shutdown_timeout=0.1) as url:
        yield url


NEW = ec.NewCustomer(email="a@example.com", ip="127.0.0.1")


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_https_verifies_certificates_by_default(
    fake: FakeEcomCharge, ca: trustme.CA, kind: str
) -> None:
    # aiohttp: the Client's own default transport; httpx: HttpxTransport's defaults.
    transport = None if kind == "aiohttp" else http_transport(kind)
    async with (
        _https_fake(fake, ca, "127.0.0.1") as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport, retry=None) as client,
    ):
        with pytest.raises(ec.ConnectError, match="certificate verify failed"):
            await client.customers.create(NEW)
    assert fake.request_count == 0
    assert fake.customers == []


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize("how", ["context", "ca bundle file"])
async def test_a_client_given_the_ca_connects(
    fake: FakeEcomCharge, ca: trustme.CA, tmp_path: Path, how: str, kind: str
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
            SHOP_ID, SECRET, base_url=url, transport=http_transport(kind, tls=context)
        ) as client,
    ):
        created = await client.customers.create(NEW)
        assert await client.customers.list() == [created]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_certificate_for_another_host_is_refused_even_from_a_trusted_ca(
    fake: FakeEcomCharge, ca: trustme.CA, kind: str
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    transport = http_transport(kind, tls=context)
    async with (
        _https_fake(fake, ca, "api.ecomcharge.com") as url,
        ec.Client(SHOP_ID, SECRET, base_url=url, transport=transport, retry=None) as client,
    ):
        with pytest.raises(ec.ConnectError, match="certificate verify failed: IP address mismatch"):
            await client.customers.list()
    assert fake.request_count == 0
