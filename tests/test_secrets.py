"""Secrets never leak: promise 4 of docs/guides/security.md.

Whole sessions (in process, over loopback HTTP, a bulk import through the
command line) with DEBUG logging on; every artefact they leave is scanned for
every form of the secret key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import serve


async def no_sleep(seconds: float) -> None:
    """Retries in tests need not wait for real."""


SHOP = "361"
# The secrets of this section appear on these lines only, so no traceback line shows them.
KEY = "sk-live-do-not-leak-7f3a9c"
WRONG_KEY = "sk-wrong-do-not-leak-2b8e"
BAD_KEY = "sk-bad-do-not-leak-4d1c\r\nX-Injected: 1"


def secret_forms(shop_id: str, secret: str) -> list[str]:
    """Every form a secret travels in: raw, `shop:secret`, the header value, its base64."""
    header = aiohttp.encode_basic_auth(shop_id, secret)
    return [secret, f"{shop_id}:{secret}", header, header.split()[1]]


SECRETS = [
    *secret_forms(SHOP, KEY),
    *secret_forms(SHOP, WRONG_KEY),
    BAD_KEY.split("\r")[0],
]


def assert_no_secrets(artefacts: Iterable[str], secrets: Iterable[str] = SECRETS) -> None:
    """Fail if any form of any secret appears in any artefact.

    The one scanner for every artefact: reprs, messages, tracebacks, log
    records, a bulk journal, a CLI failures file, a command's output.
    """
    forms = list(secrets)
    for artefact in artefacts:
        for form in forms:
            assert form not in artefact, f"secret form #{forms.index(form)} leaked: {artefact!r}"


@attrs.define
class Artefacts:
    """Everything a session leaves behind that a person or a log shipper could read."""

    texts: list[str] = attrs.Factory(list)
    requests: list[ec.Request] = attrs.Factory(list)
    errors: list[BaseException] = attrs.Factory(list)

    def add(self, *objects: object) -> None:
        for obj in objects:
            self.texts += [repr(obj), str(obj)]

    def add_error(self, error: BaseException) -> None:
        self.errors.append(error)
        self.add(error, vars(error))
        self.texts.append("".join(traceback.format_exception(error)))  # with chained causes

    async def expect(self, error: type[BaseException], call: Awaitable[object]) -> None:
        with pytest.raises(error) as info:
            await call
        self.add_error(info.value)

    async def __call__(self, request: ec.Request, call_next: ec.Handler) -> ec.Response:
        """As attempt middleware: every request and response of every attempt."""
        self.requests.append(request)
        self.add(request)
        response = await call_next(request)
        self.add(response)
        return response


PERSON = ec.NewCustomer(email="jane@example.com", ip="203.0.113.9", country="US", state="CO")


async def full_session(client: ec.Client, fake: FakeEcomCharge, seen: Artefacts) -> None:
    """Creates, a 422, retried faults, a lost create, exhausted retries, a 404, reads."""
    created = await client.customers.create(PERSON)
    await seen.expect(ec.ValidationError, client.customers.create(ec.NewCustomer(email="x", ip="")))
    fake.inject(Fault.status(503), Fault.status(429, retry_after=1))
    await client.customers.create(PERSON)
    fake.inject(Fault.refuse())
    await client.customers.list()
    fake.inject(Fault.drop())
    await seen.expect(ec.APIConnectionError, client.customers.create(PERSON))
    fake.inject(*[Fault.status(502, body=b"<html>Bad Gateway</html>")] * 3)
    await seen.expect(ec.ServerError, client.customers.get(created.id))
    await seen.expect(ec.NotFoundError, client.customers.get("cst_0000000000000000"))
    assert created.id in [c.id async for c in client.customers.iter()]
    seen.add(client, client.customers)


async def test_no_secret_in_any_artefact_of_a_full_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, aiohttp's, asyncio's
    fake = FakeEcomCharge(shop_id=SHOP, secret_key=KEY)
    seen = Artefacts()
    fast = ec.RetryPolicy(sleep=no_sleep)
    options: dict[str, Any] = {"retry": fast, "attempt_middleware": [seen]}
    async with ec.Client(SHOP, KEY, transport=fake.transport(), **options) as client:
        await full_session(client, fake, seen)
    transport = ec.AiohttpTransport()
    async with serve(fake) as url:
        async with ec.Client(SHOP, KEY, base_url=url, transport=transport, **options) as client:
            await full_session(client, fake, seen)
            seen.add(transport)
        async with ec.Client(SHOP, WRONG_KEY, base_url=url, **options) as client:
            await seen.expect(ec.AuthenticationError, client.customers.list())
        await seen.expect(RuntimeError, client.customers.list())  # used after close
    async with ec.Client(SHOP, KEY, base_url=url, **options) as client:  # the server is gone
        await seen.expect(ec.ConnectError, client.customers.create(PERSON))
    for bad in (
        lambda: ec.Client(SHOP, BAD_KEY),
        lambda: ec.Client(SHOP, KEY, base_url="http://api.ecomcharge.com"),
        lambda: ec.Client(SHOP, KEY, retry=3),  # type: ignore[arg-type]
        lambda: ec.Client(SHOP + ":", KEY),
    ):
        with pytest.raises((ValueError, TypeError)) as info:
            bad()
        seen.add_error(info.value)

    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    logs = [formatter.format(r) + repr(r.args) + repr(vars(r)) for r in caplog.records]
    assert_no_secrets([*seen.texts, *logs])

    # The scan is not vacuous: the secret did travel, and the artefacts are the rich ones.
    assert {r.headers["Authorization"] for r in seen.requests} == {
        secret_forms(SHOP, KEY)[2],
        secret_forms(SHOP, WRONG_KEY)[2],
    }
    assert len(seen.requests) > 20
    assert {type(e).__name__ for e in seen.errors} >= {
        "ValidationError",
        "APIConnectionError",
        "ServerError",
        "NotFoundError",
        "AuthenticationError",
        "ConnectError",
        "RuntimeError",
        "ValueError",
        "TypeError",
    }
    assert any("direct cause of the following exception" in text for text in seen.texts)
    levels = {r.levelname for r in caplog.records if r.name == "ecomcharge_async"}
    assert levels == {"DEBUG", "INFO", "WARNING"}


async def test_no_secret_in_a_bulk_import_s_journal_failures_file_or_output(
    tmp_path: Path,
) -> None:
    fake = FakeEcomCharge(shop_id=SHOP, secret_key=KEY)
    rows = tmp_path / "customers.csv"
    lines = ["email,ip,country,state"]
    lines += [f"c{i}@example.com,203.0.113.{i},US,CO" for i in range(20)]
    lines += ["not-an-email,203.0.113.99,,", "d@example.com,,US,"]  # two rejected rows
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    journal, failures = tmp_path / "journal.jsonl", tmp_path / "failures.jsonl"
    fake.inject(Fault.status(503), Fault.drop(), Fault.status(429, retry_after="0"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMCHARGE_")}
    env.update(ECOMCHARGE_SHOP_ID=SHOP, ECOMCHARGE_SECRET_KEY=KEY)
    async with serve(fake) as url:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "ecomcharge_async", "import", str(rows)),
            *("--base-url", url, "--journal", str(journal), "--failures", str(failures)),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            out, err = await process.communicate()
    assert process.returncode == 1, err.decode()  # some rows were rejected
    assert len(fake.customers) == 20
    artefacts = [out.decode(), err.decode(), journal.read_text(), failures.read_text()]
    assert failures.read_text().count("\n") == 2
    assert journal.read_text().count("\n") > 20
    assert_no_secrets(artefacts)
