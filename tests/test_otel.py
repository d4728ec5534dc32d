"""OpenTelemetry tracing: one span per call, the attempts under it, no customer data."""

from __future__ import annotations

import pytest
from conftest import SECRET, SHOP_ID
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import ecomcharge_async as ec
from ecomcharge_async.otel import OpenTelemetryMiddleware
from ecomcharge_async.testing import FakeEcomCharge, Fault


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def traced(fake: FakeEcomCharge, provider: TracerProvider) -> ec.Client:
    return ec.Client(
        SHOP_ID,
        SECRET,
        transport=fake.transport(),
        retry=ec.RetryPolicy(sleep=no_sleep),
        middleware=[OpenTelemetryMiddleware(tracer_provider=provider)],
    )


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def all_attribute_values(spans: tuple[ReadableSpan, ...]) -> list[str]:
    return [str(value) for span in spans for value in (span.attributes or {}).values()]


async def test_a_call_retried_twice_is_one_span_with_three_attempts_under_it(
    fake: FakeEcomCharge, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    fake.inject(Fault.status(503), Fault.status(503))
    async with traced(fake, provider) as client:
        customer = await client.customers.create(
            ec.NewCustomer(email="ann@example.com", ip="10.0.0.1", first_name="Ann")
        )
    spans = exporter.get_finished_spans()
    [call] = by_name(spans, "ecomcharge customers.create")
    attempts = by_name(spans, "ecomcharge attempt")
    assert len(spans) == 4
    assert call.attributes is not None
    assert dict(call.attributes) == {
        "http.request.method": "POST",
        "url.template": "/customers",
        "ecomcharge.attempts": 3,
        "http.response.status_code": 201,
    }
    assert call.status.status_code == StatusCode.UNSET
    assert call.context is not None
    for span in attempts:
        assert span.parent is not None
        assert span.parent.span_id == call.context.span_id
        assert span.context is not None
        assert span.context.trace_id == call.context.trace_id
    seen = [
        (s.attributes["ecomcharge.attempt"], s.attributes["http.response.status_code"])
        for s in attempts
        if s.attributes is not None
    ]
    assert sorted(seen) == [(1, 503), (2, 503), (3, 201)]
    values = all_attribute_values(spans)
    assert not any("ann@example.com" in v or customer.id in v or "Ann" in v for v in values)


async def test_a_get_names_the_route_template_never_the_id(
    fake: FakeEcomCharge, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with traced(fake, provider) as client:
        created = await client.customers.create(
            ec.NewCustomer(email="b@example.com", ip="10.0.0.2")
        )
        await client.customers.get(created.id)
        await client.customers.list()
        async for _ in client.customers.iter():
            pass
    spans = exporter.get_finished_spans()
    [get] = by_name(spans, "ecomcharge customers.get")
    assert get.attributes is not None
    assert get.attributes["url.template"] == "/customers/{customer_id}"
    assert len(by_name(spans, "ecomcharge customers.list")) == 1
    assert len(by_name(spans, "ecomcharge customers.iter")) == 1
    values = all_attribute_values(spans)
    assert not any(created.id in v or "b@example.com" in v for v in values)


async def test_a_failed_call_records_its_error_type_and_status(
    fake: FakeEcomCharge, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with traced(fake, provider) as client:
        with pytest.raises(ec.ValidationError):
            await client.customers.create(ec.NewCustomer(email="c@example.com", ip=""))
        fake.inject(Fault.refuse(), Fault.refuse(), Fault.refuse())
        with pytest.raises(ec.ConnectError):
            await client.customers.list()
    spans = exporter.get_finished_spans()
    [create] = by_name(spans, "ecomcharge customers.create")
    assert create.attributes is not None
    assert create.attributes["error.type"] == "ValidationError"
    assert create.attributes["http.response.status_code"] == 422
    assert create.attributes["ecomcharge.attempts"] == 1
    assert create.status.status_code == StatusCode.ERROR
    [listing] = by_name(spans, "ecomcharge customers.list")
    assert listing.attributes is not None
    assert listing.attributes["error.type"] == "ConnectError"
    assert listing.attributes["ecomcharge.attempts"] == 3
    assert "http.response.status_code" not in listing.attributes
    assert "c@example.com" not in " ".join(all_attribute_values(spans))


async def test_without_a_provider_the_global_one_is_used(fake: FakeEcomCharge) -> None:
    # The global provider is a no-op until an app sets one: the calls just work.
    async with ec.Client(
        SHOP_ID, SECRET, transport=fake.transport(), middleware=[OpenTelemetryMiddleware()]
    ) as client:
        created = await client.customers.create(
            ec.NewCustomer(email="d@example.com", ip="10.0.0.4")
        )
        assert (await client.customers.get(created.id)).id == created.id
