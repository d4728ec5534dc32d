"""How an import's limiter is wired: what each answer tells it, pauses, the peak reported."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from conftest import SECRET, SHOP_ID, FakeTime
from virtual_time import simulate, virtual_clock

import ecomcharge_async as ec
from ecomcharge_async.bulk import ImportReport, customer_key, import_customers
from ecomcharge_async.bulk._limiter import INITIAL_LIMIT
from ecomcharge_async.testing import FakeEcomCharge, Fault


def person(n: int) -> ec.NewCustomer:
    return ec.NewCustomer(email=f"user{n}@example.com", ip=f"10.0.{n // 250}.{n % 250 + 1}")


class Counting:
    """The fake's transport, counting the requests in flight at once.

    Each takes a few loop turns, or `latency` seconds (on a virtual clock: see
    `virtual_time`), so that more in flight means more answers per second.
    """

    def __init__(self, fake: FakeEcomCharge, latency: float = 0.0) -> None:
        self.inner = fake.transport()
        self.latency = latency
        self.in_flight = self.peak = 0

    async def send(self, request: ec.Request) -> ec.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            await asyncio.sleep(self.latency)
            return await self.inner.send(request)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


class CountingEarly(Counting):
    """`Counting`, also noting the peak while the first `early` requests were sent."""

    def __init__(self, fake: FakeEcomCharge, early: int, latency: float) -> None:
        super().__init__(fake, latency)
        self.sent, self.early, self.early_peak = 0, early, 0

    async def send(self, request: ec.Request) -> ec.Response:
        self.sent += 1
        if self.sent <= self.early:
            self.early_peak = max(self.early_peak, self.in_flight + 1)
        return await super().send(request)


def assert_each_row_once(fake: FakeEcomCharge, rows: list[ec.NewCustomer]) -> None:
    fake.faults.clear()
    held = Counter(customer_key(c) for c in fake.customers)
    assert held == Counter(customer_key(row) for row in rows)


def test_auto_grows_past_its_start_and_never_above_the_maximum(fake: FakeEcomCharge) -> None:
    transport = Counting(fake, latency=0.05)  # an API 50 ms away: more in flight, more rows/s
    rows = [person(n) for n in range(600)]

    async def main() -> ImportReport:
        async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
            return await import_customers(
                client, rows, max_concurrency=40, clock=virtual_clock, sleep=asyncio.sleep
            )

    report = simulate(main)
    assert report.created == 600
    assert INITIAL_LIMIT < report.concurrency <= 40
    assert INITIAL_LIMIT < transport.peak <= 40  # the slots, not the workers, bound the sends
    assert_each_row_once(fake, rows)


def test_auto_grows_while_the_queue_is_full_and_the_feeder_waits_for_room(
    fake: FakeEcomCharge,
) -> None:
    # 400 rows fill the queue (256) at once; the feeder then waits until half of it
    # was taken. The limit grows meanwhile, and the workers start the workers it allows.
    transport = CountingEarly(fake, early=100, latency=0.05)
    rows = [person(n) for n in range(400)]

    async def main() -> ImportReport:
        async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
            return await import_customers(client, rows, clock=virtual_clock, sleep=asyncio.sleep)

    report = simulate(main)
    assert report.created == 400
    assert transport.early_peak > 2 * INITIAL_LIMIT
    assert_each_row_once(fake, rows)


async def test_a_fixed_concurrency_is_the_concurrency_reported(fake: FakeEcomCharge) -> None:
    transport = Counting(fake)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=transport) as client:
        report = await import_customers(client, [person(n) for n in range(100)], concurrency=5)
    assert (report.created, report.concurrency, transport.peak) == (100, 5, 5)


@pytest.mark.parametrize(
    ("concurrency", "pauses"), [("auto", []), (4, [0.25])], ids=["auto", "fixed"]
)
async def test_a_429_without_retry_after_is_paced_in_auto_mode_and_paused_otherwise(
    fake: FakeEcomCharge, concurrency: int | str, pauses: list[float]
) -> None:
    time = FakeTime(interleave=True)
    fake.inject(Fault.status(429))
    rows = [person(n) for n in range(10)]
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(
            client,
            rows,
            concurrency=concurrency,  # type: ignore[arg-type]
            sleep=time.sleep,
            clock=time.clock,
        )
    assert report.created == 10
    assert time.sleeps == pauses  # auto: the limiter halved, nobody waited a pause
    assert_each_row_once(fake, rows)


@pytest.mark.parametrize(
    "fault",
    [Fault.status(429, retry_after="7"), Fault.status(503), Fault.refuse()],
    ids=["429-retry-after", "503", "refused"],
)
async def test_in_auto_mode_other_overload_signals_still_pause_the_import(
    fake: FakeEcomCharge, fault: Fault
) -> None:
    time = FakeTime(interleave=True)
    fake.inject(fault)
    rows = [person(n) for n in range(10)]
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(client, rows, sleep=time.sleep, clock=time.clock)
    assert report.created == 10
    assert len(time.sleeps) == 1
    assert time.sleeps[0] == (7.0 if fault.retry_after else 0.25)
    assert_each_row_once(fake, rows)


async def test_unclear_rows_are_reconciled_with_the_list_taking_a_slot(
    fake: FakeEcomCharge,
) -> None:
    # Fixed at 1: the list stream must get the only slot and give it back.
    fake.inject(Fault.status(500), None, Fault.status(503), None)
    rows = [person(n) for n in range(4)]
    time = FakeTime(interleave=True)
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        report = await import_customers(
            client, rows, concurrency=1, reconcile_batch=1, sleep=time.sleep, clock=time.clock
        )
    assert (report.created, report.failed) == (4, 0)
    assert_each_row_once(fake, rows)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"concurrency": "fast"}, 'concurrency must be "auto" or a whole number'),
        ({"concurrency": True}, 'concurrency must be "auto" or a whole number'),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
    ],
)
async def test_bad_concurrency_settings_are_refused(
    fake: FakeEcomCharge, kwargs: dict[str, object], problem: str
) -> None:
    async with ec.Client(SHOP_ID, SECRET, retry=None, transport=fake.transport()) as client:
        with pytest.raises(ValueError, match=problem):
            await import_customers(client, [], **kwargs)  # type: ignore[arg-type]
