"""The counts of an import: one type, added up for shards, tallied from outcomes, as JSON."""

from __future__ import annotations

import pytest

import ecomcharge_async as ec
from ecomcharge_async.bulk import (
    Counts,
    ImportReport,
    RowError,
    RowOutcome,
    Tally,
    import_customers,
)
from ecomcharge_async.testing import FakeEcomCharge


def test_counts_add_up_field_by_field() -> None:
    first = Counts(total=10, created=7, rejected=2, failed=1, resumed=4, reconciled=1)
    second = Counts(total=5, created=5, resumed=5)
    assert first + second == Counts(
        total=15, created=12, rejected=2, failed=1, resumed=9, reconciled=1
    )
    assert sum([first, second], Counts()) == first + second


def test_a_report_adds_up_as_its_counts() -> None:
    report = ImportReport(total=3, created=3, elapsed=2.0, concurrency=8)
    assert Counts() + report == Counts(total=3, created=3)
    assert report.done == 3
    assert report.ok
    with pytest.raises(TypeError):
        Counts() + 1  # type: ignore[operator]


def test_to_dict_names_the_counts_in_order_and_from_dict_reads_them_back() -> None:
    counts = Counts(total=4, created=1, rejected=2, failed=1, resumed=0, reconciled=1)
    assert list(counts.to_dict().items()) == [
        ("total", 4),
        ("created", 1),
        ("rejected", 2),
        ("failed", 1),
        ("resumed", 0),
        ("reconciled", 1),
    ]
    # A shard task's result holds more keys (shop_id, elapsed, ...); missing counts are 0.
    assert Counts.from_dict({**counts.to_dict(), "shop_id": "361", "elapsed": 1.5}) == counts
    assert Counts.from_dict({"created": "2"}) == Counts(created=2)


def test_ok_only_when_nothing_was_rejected_or_failed() -> None:
    assert Counts(total=2, created=2).ok
    assert not Counts(total=2, created=1, rejected=1).ok
    assert not Counts(total=2, created=1, failed=1).ok


def test_a_tally_counts_outcomes_as_they_come() -> None:
    tally = Tally()
    for outcome in [
        RowOutcome(line=2, status="created", customer_id="c1"),
        RowOutcome(line=3, status="created", customer_id="c2", reconciled=True),
        RowOutcome(line=4, status="rejected", message="bad"),
        RowOutcome(line=5, status="failed", message="gone"),
        RowOutcome(line=6, status="created", resumed=True),
    ]:
        tally.add(outcome)
    assert tally.done == 5
    assert tally.counts() == Counts(
        total=5, created=3, rejected=1, failed=1, resumed=1, reconciled=1
    )
    before = tally.counts()
    tally.add(RowOutcome(line=7, status="created"))
    assert before.created == 3  # a snapshot does not move
    assert tally.counts().created == 4


async def test_the_report_of_an_import_equals_a_tally_of_its_outcomes() -> None:
    """The importer's counts and an `on_progress` tally are one type and agree."""
    fake = FakeEcomCharge(shop_id="361", secret_key="s")
    rows = [
        ec.NewCustomer(email="a@example.com", ip="127.0.0.1"),
        ec.NewCustomer(email="b@example.com", ip=""),  # the API rejects it (422)
        RowError(line=4, message="bad line"),
        ec.NewCustomer(email="c@example.com", ip="127.0.0.1"),
    ]
    tally = Tally()
    async with ec.Client("361", "s", transport=fake.transport()) as client:
        report = await import_customers(client, rows, on_progress=tally.add)
    assert Counts.from_dict(report.to_dict()) == tally.counts()
    assert tally.counts() == Counts(total=4, created=2, rejected=2)
