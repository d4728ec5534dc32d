"""Cross-cutting promises, each tested by trying to break it (docs/guides/security.md).

Hostile responses (a property test through a custom Transport), cancellation
and close under load against a real slow server, and secrets in every artefact
of a full session. Module-specific promises live in their module's test file.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import serve

# -- promise 1: any response decodes or raises our error -----------------------------------

#: How many hostile responses the property test tries per run (reported in the guide).
HOSTILE_CASES = 2000
#: The longest str() of an error a hostile answer can produce.
MAX_ERROR_CHARS = 1000

CUSTOMER = {
    "id": "cst_7aee5afb954c7ef7",
    "email": "customer@example.com",
    "ip": "127.0.0.1",
    "city": "Denver",
}
FIELDS = [field.name for field in attrs.fields(ec.Customer)]


async def no_sleep(seconds: float) -> None:
    """Retries in tests need not wait for real."""


@attrs.define
class ScriptedTransport:
    """Answers with the given responses in turn (the last one repeats).

    `stream` hands a 2xx body over in pieces of `piece` bytes, as a network would.
    """

    responses: Sequence[ec.Response]
    piece: int = 64
    sent: int = 0

    async def send(self, request: ec.Request) -> ec.Response:
        response = self.responses[min(self.sent, len(self.responses) - 1)]
        self.sent += 1
        await asyncio.sleep(0)
        return response

    async def stream(self, request: ec.Request) -> ec.Response:
        response = await self.send(request)
        if not 200 <= response.status < 300:
            return response
        return attrs.evolve(response, body=b"", chunks=_pieces(response.body, self.piece))

    async def aclose(self) -> None:
        pass


async def _pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    size = max(size, len(body) // 256)  # at most ~256 pieces: keeps the test fast
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


KEYS = [*FIELDS, "message", "errors", "response", "base", "x"]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([10**400, -(10**400), 2**64, 1e308, "\ud800", "\x00\n\x1b[2J"])
)


def _objects(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    # Lists of pairs, not st.dictionaries: no unique-key retries, much cheaper to draw.
    return st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3).map(dict)


# Two levels of nesting, spelled out: st.recursive is several times slower to draw.
shallow = json_leaves | st.lists(json_leaves, max_size=3) | _objects(json_leaves)
json_values = shallow | st.lists(shallow, max_size=3) | _objects(shallow)
# A valid customer with a few fields overwritten or dropped: sometimes still valid,
# often wrong in exactly one place.
near_customers = st.builds(
    lambda changes, dropped: {
        key: value for key, value in {**CUSTOMER, **changes}.items() if key not in dropped
    },
    _objects(json_values),
    st.sets(st.sampled_from(FIELDS), max_size=2),
)
json_documents = st.one_of(
    json_values,
    near_customers,
    st.lists(near_customers, max_size=4),
    _objects(json_values),
)


def _cut(body: bytes, at: int) -> bytes:
    return body[:at]


def _insert(body: bytes, junk: bytes, at: int) -> bytes:
    return body[:at] + junk + body[at:]


def _nested(depth: int, kind: str) -> bytes:
    if kind == "arrays":
        return b"[" * depth + b"]" * depth
    if kind == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # never closed


valid_json = json_documents.map(_dump)
# Hand-picked hostile bodies, plus well-formed answers to cut and corrupt.
SEED_BODIES = [
    b"",
    b"null",
    b"1e999999",
    b"-1e999999",
    b"NaN",
    b"[Infinity]",
    b"9" * 5000,
    b"[" + b"1" * 10_000 + b"]",
    b'{"id": 1e999999, "email": "e", "ip": "i"}',
    b'{"message": ' + b"7" * 5000 + b"}",
    b'{"id": "\xff\xfe", "email": "e", "ip": "i"}',
    b'{"message": "\\ud800 lone surrogate"}',
    b'{"message": "line one\\nFAKE LOG LINE\\r\\n\\u001b[31mred\\u0000"}',
    b'\xef\xbb\xbf{"id": "cst_1", "email": "e", "ip": "i"}',
    '{"id": "cst_1", "email": "e", "ip": "i"}'.encode("utf-16"),
    "[{}]".encode("utf-32-le"),
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
    b"<!DOCTYPE html><html>" + b"<p>maintenance</p>" * 5000 + b"</html>",
    b"\x00" * 1000,
    _dump(CUSTOMER),
    _dump([CUSTOMER, CUSTOMER]),
    _dump({"message": "Ip address is invalid", "errors": {"ip": ["can't be blank"]}}),
    _dump({"response": {"status": "error", "message": "Access denied"}}),
]
seed_bodies = st.sampled_from(SEED_BODIES)
bodies = st.one_of(
    valid_json,
    seed_bodies,
    st.builds(_cut, valid_json | seed_bodies, st.integers(0, 400)),
    st.builds(_insert, seed_bodies, st.binary(min_size=1, max_size=3), st.integers(0, 400)),
    st.binary(max_size=300),
    st.builds(_nested, st.integers(1, 100_000), st.sampled_from(["arrays", "objects", "open"])),
)
retry_after_values = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "-1",
            "60",
            "61",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "soon",
            "",
            "1_000",
            "\u0661\u0662",
            "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
            "Mon, 01 Jan 9999999999 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 -0000",
            "Wed, 99 Foo 2015 07:28:00 GMT",
        ]
    ),
    st.text(max_size=40),
    st.floats().map(str),
    st.integers().map(str),
    # HTTP dates with any year, day and hour: out of range, or far in the past or future.
    st.builds(
        "{:s}, {:02d} Jan {:d} {:02d}:00:00 GMT".format,
        st.sampled_from(["Mon", "Xyz"]),
        st.integers(0, 99),
        st.integers(-1, 10**30),
        st.integers(0, 99),
    ),
)


def _headers(name: str | None, value: str, millis: str | None, kind: str) -> dict[str, str]:
    headers = {"Content-Type": kind}
    if name is not None:
        headers[name] = value
    if millis is not None:
        headers["retry-after-ms"] = millis
    return headers


headers = st.builds(
    _headers,
    st.sampled_from(["Retry-After", "retry-after", "RETRY-AFTER", None]),
    retry_after_values,
    st.none() | retry_after_values,
    st.sampled_from(["application/json", "text/html; charset=utf-8", "\x00"]),
)
statuses = st.one_of(
    st.sampled_from([408, 429, 500, 502, 503, 504]),  # the ones retry and Retry-After look at
    st.sampled_from([200, 201, 204, 400, 401, 404, 422]),
    st.integers(100, 599),
    st.sampled_from([0, -1, 99, 600, 999, 1000]),
)
responses = st.builds(ec.Response, status=statuses, headers=headers, body=bodies)


async def _call(client: ec.Client, operation: str) -> object:
    if operation == "create":
        return await client.customers.create(ec.NewCustomer(email="a@example.com", ip="::1"))
    if operation == "get":
        return await client.customers.get("cst_7aee5afb954c7ef7")
    if operation == "iter":
        return [customer async for customer in client.customers.iter()]
    return await client.customers.list()


@settings(
    max_examples=HOSTILE_CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    answers=st.lists(responses, min_size=1, max_size=2),
    operation=st.sampled_from(["create", "get", "list", "iter"]),
    retry=st.sampled_from([None, ec.RetryPolicy(sleep=no_sleep)]),
    piece=st.integers(1, 100),
)
async def test_any_response_decodes_or_raises_our_error(
    answers: list[ec.Response], operation: str, retry: ec.RetryPolicy | None, piece: int
) -> None:
    transport = ScriptedTransport(answers, piece)
    outcome: object
    async with ec.Client("361", "s", transport=transport, retry=retry) as client:
        try:
            async with asyncio.timeout(10):
                outcome = await _call(client, operation)
        except ec.EcomChargeError as exc:
            outcome = exc
    if isinstance(outcome, ec.EcomChargeError):
        text = str(outcome)
        assert len(text) <= MAX_ERROR_CHARS, text[:300]
        assert text.isprintable(), text
        assert len(repr(outcome)) <= MAX_ERROR_CHARS + 100
    elif operation in ("list", "iter"):
        assert isinstance(outcome, list)
        assert all(type(item) is ec.Customer for item in outcome)
        assert 200 <= answers[min(transport.sent, len(answers)) - 1].status < 300
    else:
        assert type(outcome) is ec.Customer
        assert 200 <= answers[min(transport.sent, len(answers)) - 1].status < 300


# -- promise 3: cancellation and close are safe ---------------------------------------------


@attrs.define
class SlowShop:
    """A loopback server whose GET /customers waits for `gate`; with `half_body`, every
    other request gets its status and part of its body first."""

    url: str = ""
    half_body: bool = True
    arrived: int = 0
    gate: asyncio.Event = attrs.Factory(asyncio.Event)
    changed: asyncio.Condition = attrs.Factory(asyncio.Condition)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        async with self.changed:
            self.arrived += 1
            self.changed.notify_all()
        if self.half_body and self.arrived % 2:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'[{"id": "cst_7aee5afb954c7ef7", ')
            await self.gate.wait()
            return response
        await self.gate.wait()
        return web.json_response([])

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(lambda: self.arrived >= count)


@contextlib.asynccontextmanager
async def slow_shop() -> AsyncIterator[SlowShop]:
    shop = SlowShop()
    app = web.Application()
    app.router.add_route("*", "/customers", shop.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    shop.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield shop
    finally:
        shop.gate.set()
        await runner.cleanup()


@contextlib.contextmanager
def leak_detector() -> Iterator[list[str]]:
    """Collects what a leak looks like: unclosed-resource warnings and loop error reports.

    Yields the list of findings; garbage is collected before leaving, so objects
    dropped without being closed report here, inside the test.
    """
    findings: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: findings.append(str(context.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield findings
            gc.collect()
        findings.extend(str(warning.message) for warning in caught)
    finally:
        loop.set_exception_handler(None)


CONCURRENT = 500


async def test_cancelling_500_calls_mid_flight_leaks_nothing_and_the_client_keeps_working() -> None:
    with leak_detector() as leaks:
        async with slow_shop() as shop:
            transport = ec.AiohttpTransport(limit=10)
            async with ec.Client("361", "s", base_url=shop.url, transport=transport) as client:
                calls = [asyncio.create_task(client.customers.list()) for _ in range(CONCURRENT)]
                await shop.wait_for(10)  # the pool is full: 10 at the server, 490 queued
                for call in calls:
                    call.cancel()
                outcomes = await asyncio.gather(*calls, return_exceptions=True)
                assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
                # All 10 connections are free again: 10 new calls reach the server at once.
                shop.half_body, shop.arrived = False, 0
                calls = [asyncio.create_task(client.customers.list()) for _ in range(10)]
                await shop.wait_for(10)
                shop.gate.set()
                assert await asyncio.gather(*calls) == [[]] * 10
                async with asyncio.timeout(10):
                    answers = await asyncio.gather(*(client.customers.list() for _ in range(50)))
                assert answers == [[]] * 50
    assert leaks == []


async def test_closing_the_client_ends_calls_in_flight_with_a_clear_error() -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    with leak_detector() as leaks:
        async with slow_shop() as shop:
            client = ec.Client(
                "361",
                "s",
                base_url=shop.url,
                transport=ec.AiohttpTransport(limit=10),
                retry=ec.RetryPolicy(sleep=record_wait),
            )
            reads = [asyncio.create_task(client.customers.list()) for _ in range(30)]
            creates = [asyncio.create_task(client.customers.create(NEW)) for _ in range(30)]
            await shop.wait_for(10)  # 10 at the server (some mid-body), 50 queued
            await client.aclose()
            outcomes = await asyncio.gather(*reads, *creates, return_exceptions=True)
            with pytest.raises(RuntimeError, match="this Client is closed"):
                await client.customers.list()
    assert leaks == []
    assert waits == []  # not retried: closing is not a network failure
    messages = {f"{type(o).__name__}: {o}" for o in outcomes}
    assert messages == {
        f"RuntimeError: {method} /customers: the transport was closed while the request "
        "was in flight (it may have reached the server)"
        for method in ("GET", "POST")
    }


NEW = ec.NewCustomer(email="a@example.com", ip="127.0.0.1")


# -- promise 4: secrets never leak ----------------------------------------------------------

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


# -- the guide names real tests -------------------------------------------------------------

GUIDE = Path(__file__).parent.parent / "docs" / "guides" / "security.md"


def test_every_test_the_security_guide_names_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d) \| .+ \| (.+) \|$", text, flags=re.MULTILINE)
    assert [number for number, _ in rows] == list("1234567")
    for number, proofs in rows:
        named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", proofs)
        assert named, f"promise {number} names no test"
        for file, name in named:
            tree = ast.parse((Path(__file__).parent / file).read_text(encoding="utf-8"))
            defined = {
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert name in defined, f"promise {number}: {file}::{name} does not exist"
    assert f"{HOSTILE_CASES:,} hostile exchanges per run" in text
    assert f"at most {MAX_ERROR_CHARS:,} characters" in text
