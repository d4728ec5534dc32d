"""Bulk import on the fake: accounting, exactly-once under faults, pacing, the journal."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import SECRET, SHOP_ID, FakeTime

import ecomcharge_async as ec
from ecomcharge_async import bulk
from ecomcharge_async.bulk import (
    ImportReport,
    JournalError,
    Row,
    RowError,
    RowOutcome,
    RowReader,
    customer_key,
    import_customers,
)
from ecomcharge_async.testing import FakeEcomCharge, Fault


@pytest.fixture
async def client(fake: FakeEcomCharge) -> AsyncIterator[ec.Client]:
    """Without the client's own retries, every failure reaches the importer (the CLI's setup)."""
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        yield client


class Crash(Exception):
    """Stands in for the process dying."""


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def person(n: int, **fields: str) -> ec.NewCustomer:
    values = {"email": f"user{n}@example.com", "ip": f"10.0.{n // 250}.{n % 250 + 1}"}
    values.update(fields)
    return ec.NewCustomer(**values)


def mixed_rows(count: int) -> list[ec.NewCustomer]:
    """Every 10th row is invalid (an unknown country), the rest are valid."""
    return [person(n, country="XX") if n % 10 == 3 else person(n) for n in range(count)]


def assert_exactly_once(fake: FakeEcomCharge, rows: list[ec.NewCustomer]) -> None:
    fake.faults.clear()
    valid = [row for row in rows if row.country != "XX"]
    held = Counter(customer_key(c) for c in fake.customers)
    assert held == Counter(customer_key(row) for row in valid)
    assert set(held.values()) <= {1}


def assert_adds_up(report: ImportReport, total: int) -> None:
    assert report.total == total
    assert report.created + report.rejected + report.failed == total


class Recorder:
    def __init__(self) -> None:
        self.outcomes: list[RowOutcome] = []

    def __call__(self, outcome: RowOutcome) -> None:
        self.outcomes.append(outcome)

    def by_line(self) -> dict[int, RowOutcome]:
        lines = [outcome.line for outcome in self.outcomes]
        assert len(lines) == len(set(lines)), "a row was reported twice"
        return {outcome.line: outcome for outcome in self.outcomes}


class FailingPosts:
    """A transport in front of the fake that answers every create with `fault` (or raises it)."""

    def __init__(self, fake: FakeEcomCharge, error: Exception | int) -> None:
        self.inner = fake.transport()
        self.error = error
        self.posts = 0

    async def send(self, request: ec.Request) -> ec.Response:
        if request.method != "POST":
            return await self.inner.send(request)
        self.posts += 1
        if isinstance(self.error, Exception):
            raise self.error
        return ec.Response(status=self.error, body=b"")

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- accounting ---------------------------------------------------------------------


async def test_every_row_is_created_or_rejected_and_reported(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    rows = mixed_rows(50)
    recorder = Recorder()
    report = await import_customers(client, rows, on_progress=recorder, sleep=no_sleep)
    assert (report.total, report.created, report.rejected, report.failed) == (50, 45, 5, 0)
    assert not report.ok
    outcomes = recorder.by_line()
    assert sorted(outcomes) == list(range(1, 51))
    ids = {c.id: c for c in fake.customers}
    for line, outcome in outcomes.items():
        assert outcome.customer == rows[line - 1]
        if rows[line - 1].country == "XX":
            assert outcome.status == "rejected"
            assert outcome.errors == {"country": ["is invalid"]}
            assert outcome.message == "Country is invalid"
        else:
            assert outcome.status == "created"
            assert customer_key(ids[outcome.customer_id or ""]) == customer_key(rows[line - 1])
    assert_exactly_once(fake, rows)


async def test_row_errors_count_as_rejected_with_their_line(client: ec.Client) -> None:
    recorder = Recorder()
    rows = [
        Row(2, person(1)),
        RowError(3, "malformed CSV: unexpected end of data"),
        Row(5, person(2)),
    ]
    report = await import_customers(client, rows, on_progress=recorder)
    assert (report.total, report.created, report.rejected) == (3, 2, 1)
    assert recorder.by_line()[3] == RowOutcome(
        line=3,
        status="rejected",
        errors={"base": ["malformed CSV: unexpected end of data"]},
        message="malformed CSV: unexpected end of data",
    )
    assert sorted(recorder.by_line()) == [2, 3, 5]


async def test_an_async_iterable_of_rows_is_imported(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    async def rows() -> AsyncIterator[ec.NewCustomer]:
        for n in range(30):
            await asyncio.sleep(0)
            yield person(n)

    report = await import_customers(client, rows(), concurrency=4)
    assert report.ok
    assert report.created == 30
    assert len(fake.customers) == 30


async def test_a_huge_concurrency_starts_only_the_workers_rows_can_use(
    client: ec.Client,
) -> None:
    tasks = 0

    def on_progress(outcome: RowOutcome) -> None:
        nonlocal tasks
        tasks = max(tasks, len(asyncio.all_tasks()))

    rows = [person(n) for n in range(5)]
    report = await import_customers(client, rows, concurrency=10**8, on_progress=on_progress)
    assert report.created == 5
    assert tasks <= 5 + 1  # one worker per row at most, and this test's own task


async def test_identical_rows_are_each_created(client: ec.Client, fake: FakeEcomCharge) -> None:
    report = await import_customers(client, [person(1), person(1), person(1)])
    assert report.created == 3
    assert len(fake.customers) == 3


async def test_rows_are_read_lazily_and_concurrency_is_bounded(fake: FakeEcomCharge) -> None:
    in_flight = peak = 0

    class Counting:
        inner = fake.transport()

        async def send(self, request: ec.Request) -> ec.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            for _ in range(3):
                await asyncio.sleep(0)
            try:
                return await self.inner.send(request)
            finally:
                in_flight -= 1

        async def aclose(self) -> None:
            await self.inner.aclose()

    finished = read = ahead = 0

    def rows() -> Iterator[ec.NewCustomer]:
        nonlocal read, ahead
        for n in range(2000):
            read += 1
            ahead = max(ahead, read - finished)
            yield person(n)

    def on_progress(outcome: RowOutcome) -> None:
        nonlocal finished
        finished += 1

    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=Counting()) as client:
        report = await import_customers(client, rows(), concurrency=8, on_progress=on_progress)
    assert report.created == 2000
    assert peak == 8
    # Read-ahead is bounded by the workers plus the queue, not by the input size.
    assert ahead <= 2 * 8 + 1


# -- exactly once under faults --------------------------------------------------------


@pytest.mark.parametrize(
    "retry", [None, ec.RetryPolicy(sleep=no_sleep)], ids=["no-client-retry", "client-retry"]
)
async def test_chaos_every_valid_row_exactly_once(
    fake: FakeEcomCharge, retry: ec.RetryPolicy | None
) -> None:
    rows = mixed_rows(5000)
    fake.inject_random(0.2, seed=20261101)
    recorder = Recorder()
    async with ec.Client(SHOP_ID, SECRET, retry=retry, transport=fake.transport()) as client:
        report = await import_customers(
            client, rows, concurrency=32, on_progress=recorder, sleep=no_sleep
        )
    assert_adds_up(report, 5000)
    assert (report.created, report.rejected, report.failed) == (4500, 500, 0)
    assert report.reconciled > 100  # dropped responses were found, not re-sent
    assert len(recorder.by_line()) == 5000
    assert_exactly_once(fake, rows)


async def test_a_response_lost_after_the_store_is_found_not_resent(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.drop())
    recorder = Recorder()
    report = await import_customers(client, [person(1)], on_progress=recorder)
    assert (report.created, report.reconciled) == (1, 1)
    (customer,) = fake.customers
    assert recorder.outcomes[0].customer_id == customer.id
    assert recorder.outcomes[0].reconciled
    assert fake.request_count == 2  # the create, then one list: no second create


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_an_unclear_failure_that_stored_nothing_is_sent_again_once(
    client: ec.Client, fake: FakeEcomCharge, status: int
) -> None:
    fake.inject(Fault.status(status))
    report = await import_customers(client, [person(1)])
    assert (report.created, report.reconciled) == (1, 0)
    assert len(fake.customers) == 1
    assert fake.request_count == 3  # create (5xx), list (absent), create


@pytest.mark.parametrize("fault", [Fault.refuse(), Fault.status(503), Fault.status(408)])
async def test_a_request_that_surely_did_not_land_is_simply_sent_again(
    client: ec.Client, fake: FakeEcomCharge, fault: Fault
) -> None:
    fake.inject(fault, fault)
    report = await import_customers(client, [person(1)], sleep=no_sleep)
    assert report.created == 1
    assert fake.request_count == 3  # no list needed
    assert len(fake.customers) == 1


async def test_a_429_pauses_the_whole_import_for_its_retry_after(fake: FakeEcomCharge) -> None:
    time = FakeTime(interleave=True)
    fake.inject(Fault.status(429, retry_after="7"))
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(
            client,
            [person(n) for n in range(10)],
            concurrency=4,
            sleep=time.sleep,
            clock=time.clock,
        )
    assert report.created == 10
    # Only the first request of each worker had left; everyone waited one 7 s pause.
    assert time.sleeps
    assert set(time.sleeps) == {7.0}
    assert report.elapsed == pytest.approx(max(time.sleeps))


async def test_a_retry_after_above_max_retry_after_fails_the_row_without_waiting(
    fake: FakeEcomCharge,
) -> None:
    # One meaning of max_retry_after, as for the client's own retries: above it, give up.
    time = FakeTime(interleave=True)
    fake.inject(Fault.status(429, retry_after="3600"))
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(client, [person(1)], sleep=time.sleep, clock=time.clock)
    assert (report.created, report.failed) == (0, 1)
    assert time.sleeps == []
    assert fake.customers == []


async def test_the_rate_limit_paces_requests(fake: FakeEcomCharge) -> None:
    time = FakeTime(interleave=True)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(
            client, [person(n) for n in range(21)], rate=10, sleep=time.sleep, clock=time.clock
        )
    assert report.created == 21
    assert report.elapsed == pytest.approx(2.0)


async def test_a_row_that_never_gets_through_fails_after_max_attempts(
    fake: FakeEcomCharge,
) -> None:
    transport = FailingPosts(fake, ec.ConnectError("refused"))
    recorder = Recorder()
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
        report = await import_customers(
            client, [person(1)], max_attempts=3, sleep=no_sleep, on_progress=recorder
        )
    assert (report.failed, transport.posts) == (1, 3)
    assert recorder.outcomes[0].message == "ConnectError: refused"


async def test_an_unclear_row_fails_after_max_rounds_without_a_duplicate(
    fake: FakeEcomCharge,
) -> None:
    transport = FailingPosts(fake, 502)
    recorder = Recorder()
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
        report = await import_customers(
            client, [person(1), person(2)], max_rounds=3, on_progress=recorder
        )
    assert (report.failed, report.created) == (2, 0)
    assert transport.posts == 2 * 4  # the first send and one per reconciliation round
    assert all(o.message and o.message.startswith("ServerError: 502") for o in recorder.outcomes)


async def test_when_the_list_keeps_failing_unclear_rows_fail_unresent(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.drop(), *[Fault.status(500)] * 20)
    recorder = Recorder()
    report = await import_customers(
        client, [person(1)], max_rounds=2, max_attempts=2, sleep=no_sleep, on_progress=recorder
    )
    assert report.failed == 1
    message = recorder.outcomes[0].message or ""
    assert message.startswith("could not check whether it was created: ServerError: 500")
    assert len(fake.customers) == 1  # stored by the dropped create, never sent again


async def test_other_client_errors_fail_the_row_at_once(fake: FakeEcomCharge) -> None:
    transport = FailingPosts(fake, 400)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
        report = await import_customers(client, [person(1)])
    assert (report.failed, transport.posts) == (1, 1)


async def test_wrong_credentials_stop_the_import(fake: FakeEcomCharge) -> None:
    async with ec.Client(SHOP_ID, "wrong", retry=None, transport=fake.transport()) as client:
        with pytest.raises(ec.AuthenticationError):
            await import_customers(client, [person(n) for n in range(100)])
    assert fake.request_count <= 16


# -- arguments --------------------------------------------------------------------------


def test_the_public_names_are_documented_and_the_internal_ones_still_importable() -> None:
    reference = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    assert bulk.__all__ == sorted(bulk.__all__)
    for name in bulk.__all__:
        assert f"ecomcharge_async.bulk.{name}\n" in reference
    for name in ("classify", "match_customers"):
        assert name not in bulk.__all__
        assert name not in reference
        assert callable(getattr(bulk, name))


async def test_credentials_refused_while_reconciling_stop_the_import(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.drop(), Fault.status(401))
    with pytest.raises(ec.AuthenticationError):
        await import_customers(client, [person(1)])


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"concurrency": 0}, "concurrency must be at least 1"),
        ({"rate": 0.0}, "rate must be positive"),
        ({"max_rounds": 0}, "must be at least 1"),
    ],
)
async def test_bad_arguments_are_refused(
    client: ec.Client, kwargs: dict[str, float], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await import_customers(client, [], **kwargs)  # type: ignore[arg-type]


async def test_rows_must_be_customers_in_line_order(client: ec.Client) -> None:
    with pytest.raises(TypeError, match="got dict after line 1"):
        await import_customers(client, [person(1), {"email": "x"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="line 3 came after 5"):
        await import_customers(client, [Row(5, person(1)), Row(3, person(2))])


# -- the journal ------------------------------------------------------------------------


async def test_an_interrupted_import_resumes_without_duplicates(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    journal = tmp_path / "import.journal"
    rows = mixed_rows(600)
    # Responses get lost after the store: at the "crash" some rows are stored but
    # only journaled as sent.
    fake.inject_random(0.3, seed=4, faults=(Fault.drop(), Fault.status(502), Fault.refuse()))
    first = Recorder()

    def crash_after_200(outcome: RowOutcome) -> None:
        first(outcome)
        if len(first.outcomes) == 200:
            raise Crash  # the import stops here, with rows in flight and held aside

    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        with pytest.raises(Crash):
            await import_customers(
                client, rows, journal=journal, on_progress=crash_after_200, sleep=no_sleep
            )
        text = journal.read_text()
        sent = set(map(int, re.findall(r'"sent":(\d+)', text)))
        done = set(map(int, re.findall(r'"done":(\d+)', text)))
        held = {customer_key(c) for c in fake.customers}
        stored_not_done = [line for line in sent - done if customer_key(rows[line - 1]) in held]
        assert stored_not_done, "the crash should leave stored rows journaled only as sent"

        second = Recorder()
        report = await import_customers(
            client, rows, journal=journal, on_progress=second, sleep=no_sleep
        )
    assert_adds_up(report, 600)
    assert (report.created, report.rejected, report.failed) == (540, 60, 0)
    assert report.resumed == len([o for o in first.outcomes if o.status in ("created", "rejected")])
    assert {o.line for o in second.outcomes} == set(range(1, 601))
    assert_exactly_once(fake, rows)


async def test_a_finished_import_rerun_with_its_journal_sends_nothing(
    client: ec.Client, fake: FakeEcomCharge, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    rows = mixed_rows(40)
    await import_customers(client, rows, journal=journal)
    requests = fake.request_count
    recorder = Recorder()
    report = await import_customers(client, rows, journal=journal, on_progress=recorder)
    assert fake.request_count == requests
    assert (report.created, report.rejected, report.resumed) == (36, 4, 40)
    assert all(o.resumed for o in recorder.outcomes)


async def test_failed_rows_are_retried_by_the_next_run(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    rows = [person(n) for n in range(5)]
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=FailingPosts(fake, 502)) as client:
        report = await import_customers(client, rows, journal=journal, max_rounds=1)
    assert report.failed == 5
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(client, rows, journal=journal)
    assert (report.created, report.failed, report.resumed) == (5, 0, 0)
    assert len(fake.customers) == 5


async def test_the_journal_holds_no_personal_data_or_secret(
    client: ec.Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    rows = [person(n, first_name="Zebulon", phone="+1-555-0100") for n in range(20)]
    await import_customers(client, rows, journal=journal)
    text = journal.read_text()
    # The phone as given and as digits ("555" alone turns up in a run's number by chance).
    for secret in ("@example.com", "Zebulon", "555-0100", "5550100", "10.0.", SECRET, "Basic "):
        assert secret not in text


async def test_a_journal_resumes_a_changed_input_by_row_content(
    client: ec.Client, fake: FakeEcomCharge, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "j.jsonl"
    await import_customers(client, [person(1), person(2)], journal=journal, input_id="sha256:aa")
    # A line added in front: every row moved; the two created before are still known.
    rows = [person(3), person(1), person(2)]
    report = await import_customers(client, rows, journal=journal, input_id="sha256:bb")
    assert (report.created, report.resumed) == (3, 2)
    assert Counter(c.email for c in fake.customers) == Counter(r.email for r in rows)
    assert "changed since the journal's last run" in caplog.text


class CrashAfterStore:
    """Stores every create, then dies before the answer arrives: `kill -9` mid-request."""

    def __init__(self, fake: FakeEcomCharge) -> None:
        self.inner = fake.transport()

    async def send(self, request: ec.Request) -> ec.Response:
        response = await self.inner.send(request)
        if request.method == "POST":
            raise Crash
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def crash_after_storing(fake: FakeEcomCharge, journal: Path) -> None:
    """A first run whose only row reaches the shop but never comes back as done."""
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=CrashAfterStore(fake)) as client:
        with pytest.raises(Crash):
            await import_customers(client, [person(1)], journal=journal)
    assert len(fake.customers) == 1


async def test_a_row_stored_but_not_journaled_done_is_reconciled_on_resume(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    await crash_after_storing(fake, journal)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        recorder = Recorder()
        report = await import_customers(client, [person(1)], journal=journal, on_progress=recorder)
    assert (report.created, report.reconciled) == (1, 1)
    assert recorder.outcomes[0].customer_id == fake.customers[0].id
    assert len(fake.customers) == 1


async def test_a_row_edited_after_it_was_sent_is_a_new_row(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    await crash_after_storing(fake, journal)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(client, [person(2)], journal=journal)
    assert (report.created, report.resumed, report.reconciled) == (1, 0, 0)
    assert sorted(c.email for c in fake.customers) == ["user1@example.com", "user2@example.com"]


# -- sharding and streamed reconciliation (issue 8) ------------------------------------


async def test_shards_of_one_input_create_every_row_exactly_once(fake: FakeEcomCharge) -> None:
    rows = [ec.NewCustomer(email=f"s{n}@example.com", ip="10.0.0.1") for n in range(100)]
    totals = []
    async with ec.Client("361", SECRET, transport=fake.transport(), retry=None) as client:
        for k in range(3):
            report = await import_customers(client, rows, shard=(k, 3))
            totals.append(report.total)
            assert report.created == report.total
    assert sum(totals) == 100
    assert sorted(totals) == [33, 33, 34]
    assert Counter(c.email for c in fake.customers) == Counter(r.email for r in rows)


@pytest.mark.parametrize("shard", [(3, 3), (-1, 2), (0, 0)])
async def test_a_bad_shard_is_refused(client: ec.Client, shard: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="0 <= k < n"):
        await import_customers(client, [], shard=shard)


async def test_a_shards_journal_refuses_another_shard(client: ec.Client, tmp_path: Path) -> None:
    journal = tmp_path / "shard.journal"
    rows = [ec.NewCustomer(email="j@example.com", ip="10.0.0.1")]
    await import_customers(client, rows, journal=journal, shard=(0, 2))
    with pytest.raises(JournalError, match=r"written for shard \[0, 2\], not \[1, 2\]"):
        await import_customers(client, rows, journal=journal, shard=(1, 2))


class CutFirstListTransport:
    """Serves the fake, but cuts the first streamed list off mid-body (a dropped stream)."""

    def __init__(self, fake: FakeEcomCharge) -> None:
        self.inner = fake.transport()
        self.cut = 0

    async def send(self, request: ec.Request) -> ec.Response:
        return await self.inner.send(request)

    async def stream(self, request: ec.Request) -> ec.Response:
        response = await self.inner.stream(request)
        if self.cut or response.chunks is None:
            return response
        self.cut += 1
        whole = b"".join([chunk async for chunk in response.chunks])

        async def cut_off() -> AsyncIterator[bytes]:
            yield whole[: len(whole) // 2]
            raise ec.APIConnectionError("connection reset mid-body")

        return ec.Response(status=response.status, headers=response.headers, chunks=cut_off())

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_reconciliation_streams_the_shop_and_reads_it_again_after_a_cut(
    fake: FakeEcomCharge,
) -> None:
    for n in range(3000):
        fake.add(email=f"old{n}@example.com", ip="10.0.0.2")
    fake.inject(*[Fault.drop()] * 5)  # stored, then the answers are lost
    rows = [ec.NewCustomer(email=f"new{n}@example.com", ip="10.0.0.1") for n in range(20)]
    transport = CutFirstListTransport(fake)
    async with ec.Client("361", SECRET, transport=transport, retry=None) as client:
        report = await import_customers(client, rows, concurrency=4, sleep=no_sleep)
    assert transport.cut == 1
    assert (report.created, report.reconciled, report.failed) == (20, 5, 0)
    created = Counter(c.email for c in fake.customers if c.email.startswith("new"))
    assert created == Counter(r.email for r in rows)


# -- identical rows: a customer another row created is never credited (review fix) -----


def assert_no_customer_credited_twice(fake: FakeEcomCharge, recorder: Recorder) -> None:
    """Every id reported created belongs to one row only and is in the shop."""
    ids = [o.customer_id for o in recorder.outcomes if o.status == "created" and not o.resumed]
    assert len(ids) == len(set(ids)), "one customer was reported for two rows"
    assert set(ids) <= {c.id for c in fake.customers}


@pytest.mark.parametrize("journaled", [False, True])
async def test_an_unclear_row_is_not_credited_with_its_twins_customer(
    client: ec.Client, fake: FakeEcomCharge, tmp_path: Path, journaled: bool
) -> None:
    # With a journal the twin's id reaches the created-ids filter from its `done`
    # record, read back as the reconciliation starts: this run wrote it 0 s before.
    fake.inject(Fault.status(502))  # the first row's create: nothing stored
    recorder = Recorder()
    journal = tmp_path / "j.jsonl" if journaled else None
    report = await import_customers(
        client, [person(1), person(1)], concurrency=1, on_progress=recorder, journal=journal
    )
    assert (report.total, report.created, report.failed, report.reconciled) == (2, 1, 1, 0)
    (customer,) = fake.customers
    outcomes = recorder.by_line()
    assert outcomes[2].customer_id == customer.id
    assert outcomes[1].status == "failed"
    assert outcomes[1].customer == person(1)
    assert outcomes[1].message == (
        f"an identical customer exists ({customer.id}) that another row of this import may "
        "have created; not created again to avoid a duplicate: check it"
    )
    assert fake.request_count == 3  # two creates and one list: the 502 row is not re-sent


async def test_an_unclear_row_that_did_land_gets_its_own_customer_not_its_twins(
    client: ec.Client, fake: FakeEcomCharge
) -> None:
    fake.inject(Fault.drop())  # the first row's create is stored, its answer lost
    recorder = Recorder()
    report = await import_customers(
        client, [person(1), person(1)], concurrency=1, on_progress=recorder
    )
    assert (report.created, report.failed, report.reconciled) == (2, 0, 1)
    assert len(fake.customers) == 2
    assert_no_customer_credited_twice(fake, recorder)


@pytest.mark.parametrize("journaled", [False, True])
async def test_a_customer_credited_in_one_round_is_not_credited_again_in_the_next(
    client: ec.Client, fake: FakeEcomCharge, tmp_path: Path, journaled: bool
) -> None:
    # Row 1's create lands unanswered and is credited in round one; row 5's create
    # (row 1's twin) stores nothing, and round two must not hand it row 1's customer.
    # Requests: creates of rows 1, 2, 3, the first list, creates of rows 4 and 5.
    fake.inject(Fault.drop(), None, None, None, None, Fault.status(502))
    rows = [person(1), person(2), person(3), person(4), person(1)]
    recorder = Recorder()
    journal = tmp_path / "j.jsonl" if journaled else None
    report = await import_customers(
        client, rows, concurrency=1, reconcile_batch=1, on_progress=recorder, journal=journal
    )
    assert (report.created, report.failed, report.reconciled) == (4, 1, 1)
    assert len(fake.customers) == 4
    outcomes = recorder.by_line()
    assert outcomes[1].reconciled
    assert outcomes[1].customer_id in (outcomes[5].message or "")
    assert_no_customer_credited_twice(fake, recorder)


class SlowFirstAnswer:
    """Stores the first successful create at once but answers it only after other tasks ran."""

    def __init__(self, fake: FakeEcomCharge, turns: int = 50) -> None:
        self.inner = fake.transport()
        self.turns = turns
        self.held = False

    async def send(self, request: ec.Request) -> ec.Response:
        response = await self.inner.send(request)
        if request.method == "POST" and response.status == 201 and not self.held:
            self.held = True
            for _ in range(self.turns):
                await asyncio.sleep(0)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_reconciliation_waits_for_creates_in_flight(fake: FakeEcomCharge) -> None:
    # Row 1 gets a 502 while row 2's create is stored but not yet answered: a list
    # taken then would show row 2's customer as nobody's, and credit it to row 1.
    fake.inject(Fault.status(502))
    rows = [person(1), person(1), *(person(n) for n in range(2, 10))]
    recorder = Recorder()
    transport = SlowFirstAnswer(fake)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
        report = await import_customers(
            client, rows, concurrency=2, reconcile_batch=1, on_progress=recorder
        )
    assert transport.held
    assert (report.created, report.failed) == (9, 1)
    assert len(fake.customers) == 9
    assert_no_customer_credited_twice(fake, recorder)


@pytest.mark.parametrize("journaled", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_chaos_with_identical_rows_credits_no_customer_twice(
    fake: FakeEcomCharge, tmp_path: Path, seed: int, journaled: bool
) -> None:
    # 600 rows over 200 distinct customers: each appears up to 3 times.
    rows = [person(n % 200) for n in range(600)]
    fake.inject_random(0.3, seed=seed)
    recorder = Recorder()
    journal = tmp_path / "j.jsonl" if journaled else None
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(
            client,
            rows,
            concurrency=8,
            reconcile_batch=20,
            on_progress=recorder,
            sleep=no_sleep,
            journal=journal,
        )
    fake.faults.clear()
    assert_adds_up(report, 600)
    assert report.created == len(fake.customers)  # the report counts what the shop holds
    assert_no_customer_credited_twice(fake, recorder)
    assert report.reconciled > 0
    held = Counter(customer_key(c) for c in fake.customers)
    assert held <= Counter(customer_key(row) for row in rows)  # nothing made twice
    for outcome in recorder.outcomes:
        if outcome.status == "failed":
            assert "another row of this import" in (outcome.message or "")


async def test_a_resumed_import_remembers_the_customers_earlier_runs_created(
    fake: FakeEcomCharge, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    fake.inject(Fault.status(502))  # row 1: nothing stored; row 2 is created

    def crash_after_first(outcome: RowOutcome) -> None:
        raise Crash  # the first outcome is row 2's: row 1 is journaled only as sent

    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        with pytest.raises(Crash):
            await import_customers(
                client,
                [person(1), person(1)],
                concurrency=1,
                journal=journal,
                on_progress=crash_after_first,
            )
        (customer,) = fake.customers
        recorder = Recorder()
        report = await import_customers(
            client, [person(1), person(1)], journal=journal, on_progress=recorder
        )
    # Rows are matched by content: the first of the two identical rows takes the
    # created record, the second the one whose outcome is unknown.
    assert (report.created, report.resumed, report.failed) == (1, 1, 1)
    assert customer.id in (recorder.by_line()[2].message or "")
    assert len(fake.customers) == 1


# -- a shop holding records the documented create cannot make --------------------------

ODD_RECORDS = [
    {"id": "cst_sub_1", "first_name": "Ann", "zip": 92006},  # made with a subscription
    {"id": "cst_sub_2", "email": "user7@example.com", "ip": None},  # a row's email, no ip
]


async def test_reconciliation_reads_a_shop_with_odd_customers_and_creates_each_row_once(
    fake: FakeEcomCharge,
) -> None:
    for record in ODD_RECORDS:
        fake.add_record(record)
    rows = [person(n) for n in range(600)]
    fake.inject_random(0.2, seed=20261202)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await asyncio.wait_for(
            import_customers(client, rows, concurrency=16, sleep=no_sleep), timeout=30
        )
    assert (report.created, report.rejected, report.failed) == (600, 0, 0)
    assert report.reconciled > 0  # the shop was read, odd customers and all
    fake.faults.clear()
    imported = Counter(customer_key(c) for c in fake.customers if not c.id.startswith("cst_sub"))
    assert imported == Counter(customer_key(row) for row in rows)
    assert {c.id for c in fake.customers} >= {"cst_sub_1", "cst_sub_2"}


async def test_an_unreadable_shop_fails_the_unclear_rows_and_the_import_ends(
    fake: FakeEcomCharge,
) -> None:
    fake.add_record({"id": "cst_bad", "email": {"not": "a string"}})
    rows = [person(n) for n in range(40)]
    fake.inject(Fault.drop(), Fault.drop())  # two creates stored, their answers lost
    recorder = Recorder()
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await asyncio.wait_for(
            import_customers(client, rows, concurrency=4, on_progress=recorder, sleep=no_sleep),
            timeout=30,
        )
    assert_adds_up(report, 40)
    assert (report.created, report.failed) == (38, 2)
    failed = [o for o in recorder.outcomes if o.status == "failed"]
    assert all("could not check whether it was created" in (o.message or "") for o in failed)
    assert len(list(fake.iter_records())) == 41  # the bad record and 40 rows: none sent twice


# -- rows from a slow pipe (`producer | ecomcharge import -`) ---------------------------


class SlowPipe:
    """An OS pipe the test feeds step by step; the importer reads it at `path`.

    A watchdog ends the input (EOF) after `bound` seconds: a loop frozen in a read
    then comes back and the test fails on `watchdog_fired`, instead of hanging.
    """

    def __init__(self, bound: float = 30) -> None:
        self.read_fd, self._write_fd = os.pipe()
        self._lock = threading.Lock()
        self._closed = False
        self.watchdog_fired = False
        self._watchdog = threading.Timer(bound, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    @property
    def path(self) -> str:
        return f"/dev/fd/{self.read_fd}"  # opened anew: a FIFO to RowReader, as stdin is

    def write(self, text: str) -> None:
        with self._lock:
            assert not self._closed, "the watchdog ended the input: the event loop was frozen"
            os.write(self._write_fd, text.encode())

    def close(self) -> None:
        self._watchdog.cancel()
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._write_fd)

    def _expire(self) -> None:
        with self._lock:
            if not self._closed:
                self.watchdog_fired = self._closed = True
                os.close(self._write_fd)


@pytest.fixture
def pipe() -> Iterator[SlowPipe]:
    pipe = SlowPipe()
    try:
        yield pipe
    finally:
        pipe.close()
        os.close(pipe.read_fd)
    assert not pipe.watchdog_fired, "the event loop stayed frozen while the pipe was quiet"


def csv_line(n: int) -> str:
    row = person(n)
    return f"{row.email},{row.ip}\n"


class HeldCreate:
    """A transport in front of the fake that holds the create of one e-mail until released."""

    def __init__(self, fake: FakeEcomCharge, email: str) -> None:
        self.inner = fake.transport()
        self.email = email.encode()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, request: ec.Request) -> ec.Response:
        if request.method == "POST" and self.email in request.body:
            self.holding.set()
            await self.release.wait()
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class LineWatch(Recorder):
    """A recorder that can be awaited until the outcome of a line arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def __call__(self, outcome: RowOutcome) -> None:
        super().__call__(outcome)
        self.changed.set()

    async def finished(self, *lines: int) -> None:
        async with asyncio.timeout(10):
            while not set(lines) <= {o.line for o in self.outcomes}:
                self.changed.clear()
                await self.changed.wait()


async def test_a_quiet_pipe_does_not_freeze_the_import_and_a_late_bad_row_keeps_its_line(
    fake: FakeEcomCharge, pipe: SlowPipe
) -> None:
    held = HeldCreate(fake, person(3).email)
    watch = LineWatch()
    pipe.write("email,ip\n" + "".join(csv_line(n) for n in (1, 2, 3)))  # lines 2-4
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=held) as client:
        with RowReader(pipe.path) as reader:
            assert reader.streamed
            task = asyncio.create_task(
                import_customers(client, reader, concurrency=4, on_progress=watch)
            )
            async with asyncio.timeout(10):
                await held.holding.wait()
            await watch.finished(2, 3)
            # Row 3's create is in flight and the pipe holds nothing more: the import
            # waits for input, and the loop still runs and completes that create.
            held.release.set()
            await watch.finished(4)
            assert not task.done()
            # Then, late: a blank line (5), a row (6), a bad row (7), two more rows (8, 9).
            pipe.write("\n" + csv_line(4) + "not,a,row\n" + csv_line(5) + csv_line(6))
            await watch.finished(6, 7)
            assert not task.done()
            pipe.close()
            async with asyncio.timeout(10):
                report = await task
    assert (report.total, report.created, report.rejected, report.failed) == (7, 6, 1, 0)
    outcomes = watch.by_line()
    assert sorted(outcomes) == [2, 3, 4, 6, 7, 8, 9]
    assert outcomes[7].status == "rejected"
    assert outcomes[7].message == "has 3 fields but the header has 2"
    for line, n in [(2, 1), (3, 2), (4, 3), (6, 4), (8, 5), (9, 6)]:
        assert outcomes[line].status == "created"
        assert outcomes[line].customer == person(n)
    assert Counter(c.email for c in fake.customers) == Counter(person(n).email for n in range(1, 7))


async def test_an_import_cancelled_on_a_quiet_pipe_resumes_from_its_journal_exactly_once(
    client: ec.Client, fake: FakeEcomCharge, pipe: SlowPipe, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    everything = "email,ip\n" + "".join(csv_line(n) for n in range(1, 11))  # lines 2-11
    first_part = everything.split("\n", 6)
    pipe.write("\n".join(first_part[:6]) + "\n")  # the header and lines 2-6
    watch = LineWatch()
    before = set(threading.enumerate())
    reader_thread = f"ecomcharge-rows {pipe.path}"
    with RowReader(pipe.path) as reader:
        task = asyncio.create_task(
            import_customers(client, reader, journal=journal, on_progress=watch)
        )
        await watch.finished(2, 3, 4, 5, 6)
        task.cancel()  # the import is waiting for more input
        async with asyncio.timeout(10):
            with pytest.raises(asyncio.CancelledError):
                await task
        # The reader's thread, blocked reading the quiet pipe (others may have started).
        (thread,) = {t for t in set(threading.enumerate()) - before if t.name == reader_thread}
    # The reader was closed without waiting for that read: the thread closes the file
    # once the read returns, and ends.
    assert thread.is_alive()
    pipe.close()
    await asyncio.to_thread(thread.join, 10)
    assert not thread.is_alive()

    again = SlowPipe()
    try:
        again.write(everything)
        again.close()
        with RowReader(again.path) as reader:
            report = await import_customers(client, reader, journal=journal)
    finally:
        os.close(again.read_fd)
    assert (report.total, report.created, report.resumed) == (10, 10, 5)
    assert Counter(c.email for c in fake.customers) == Counter(
        person(n).email for n in range(1, 11)
    )
