"""Every duration the SDK takes goes through one check, at construction, with nothing sent."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import pytest
from conftest import HTTP_KINDS, SECRET, SHOP_ID, http_transport

import ecomcharge_async as ec
from ecomcharge_async._core.durations import seconds
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._server import create_app, serve

BAD: list[tuple[object, type[Exception], str]] = [
    (True, TypeError, "got bool"),
    (False, TypeError, "got bool"),
    ("5", TypeError, "got str"),
    (b"5", TypeError, "got bytes"),
    ([5], TypeError, "got list"),
    (math.inf, ValueError, "got inf"),
    (-math.inf, ValueError, "got -inf"),
    (math.nan, ValueError, "got nan"),
    (0, ValueError, "got 0.0"),
    (0.0, ValueError, "got 0.0"),
    (-1, ValueError, "got -1.0"),
    (10**400, ValueError, "got a number out of float's range"),  # not a bare OverflowError
    (-Fraction(10**400), ValueError, "got a number out of float's range"),
]


def _retry(field: str, **others: float) -> Callable[[object], object]:
    return lambda value: ec.RetryPolicy(**{field: value}, **others)


def _transport(kind: str, option: str) -> Callable[[object], object]:
    return lambda value: http_transport(kind, **{option: value})


#: Where a duration is taken, whether None ("no limit") is allowed there.
SITES: dict[str, tuple[Callable[[object], object], bool]] = {
    "RetryPolicy.initial_backoff": (_retry("initial_backoff", max_backoff=1e10), False),
    "RetryPolicy.max_backoff": (_retry("max_backoff", initial_backoff=0.001), False),
    "RetryPolicy.max_retry_after": (_retry("max_retry_after"), False),
    "RetryPolicy.deadline": (_retry("deadline"), True),
    **{
        f"{kind}.{option}": (_transport(kind, option), True)
        for kind in HTTP_KINDS
        for option in ("timeout", "pool_timeout")
    },
    "aiohttp.connect_timeout": (_transport("aiohttp", "connect_timeout"), True),
}


@pytest.mark.parametrize(("value", "error", "got"), BAD, ids=[repr(v) for v, _, _ in BAD])
@pytest.mark.parametrize("site", SITES)
def test_every_duration_refuses_what_is_not_a_finite_positive_number(
    site: str, value: object, error: type[Exception], got: str
) -> None:
    make, none_ok = SITES[site]
    name = site.rpartition(".")[2]
    rule = "a finite number of seconds > 0" + (", or None" if none_ok else "")
    with pytest.raises(error) as info:
        make(value)
    assert str(info.value) == f"{name} must be {rule}, {got}"


@pytest.mark.parametrize("site", SITES)
def test_every_duration_takes_numbers_and_none_where_allowed(site: str) -> None:
    make, none_ok = SITES[site]
    for value in (0.001, 1, 2.5, Fraction(1, 2), 1e9):
        make(value)
    if none_ok:
        make(None)
    else:
        with pytest.raises(TypeError, match="got NoneType"):
            make(None)


@pytest.mark.parametrize(("value", "error", "got"), BAD, ids=[repr(v) for v, _, _ in BAD])
async def test_the_client_timeout_is_refused_at_construction_with_nothing_sent(
    fake: FakeEcomCharge, value: object, error: type[Exception], got: str
) -> None:
    message = f"timeout must be a finite number of seconds > 0, or None, {got}"
    async with serve(fake) as url:
        with pytest.raises(error) as info:
            ec.Client(SHOP_ID, SECRET, base_url=url, timeout=value)  # type: ignore[arg-type]
        assert str(info.value) == message
        async with ec.Client(SHOP_ID, SECRET, base_url=url) as client:
            with pytest.raises(error) as info:
                client.with_options(timeout=value)  # type: ignore[arg-type]
            assert str(info.value) == message
            assert fake.request_count == 0
            assert await client.with_options(timeout=None).customers.list() == []
    assert fake.request_count == 1


def test_the_check_returns_float_seconds() -> None:
    assert seconds("t", 2) == 2.0
    assert type(seconds("t", 2)) is float
    assert seconds("t", Fraction(1, 4)) == 0.25
    assert seconds("t", None, none_ok=True) is None
    assert seconds("t", 0, zero_ok=True) == 0.0
    with pytest.raises(ValueError, match=r"t must be a finite number of seconds >= 0, got -1.0"):
        seconds("t", -1, zero_ok=True)


def test_the_client_keeps_the_timeout_as_seconds(fake: FakeEcomCharge) -> None:
    client = ec.Client(SHOP_ID, SECRET, transport=fake.transport(), timeout=5)
    assert client.timeout == 5.0
    assert client.with_options(timeout=Fraction(3, 2)).timeout == 1.5
    assert ec.Client(SHOP_ID, SECRET, transport=fake.transport(), timeout=None).timeout is None


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (math.inf, ValueError), ("1", TypeError)]
)
def test_the_fakes_delay_fault_takes_the_same_durations(
    value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="seconds must be a finite number of seconds >= 0"):
        Fault.delay(value)  # type: ignore[arg-type]
    assert Fault.delay(0).seconds == 0.0
    assert Fault.delay(2).seconds == 2.0


@pytest.mark.parametrize(
    ("latency", "error"), [(-1, ValueError), (math.inf, ValueError), ("1", TypeError)]
)
def test_the_fake_servers_latency_takes_the_same_durations(
    fake: FakeEcomCharge, latency: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="latency must be a finite number of seconds >= 0"):
        create_app(fake, latency=latency)  # type: ignore[arg-type]
    create_app(fake, latency=0)
