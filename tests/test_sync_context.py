"""A sync call runs in its caller's context variables, whichever thread runs the SDK's loop."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator

import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge

tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")


class NoteTenant:
    """A middleware noting, per request, the tenant its caller had set."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, request: ec.Request, call_next: ec.Handler) -> ec.Response:
        self.seen.append(tenant.get())
        return await call_next(request)


@pytest.fixture
def noted(fake: FakeEcomCharge) -> Iterator[tuple[ec.SyncClient, NoteTenant]]:
    note = NoteTenant()
    client = ec.SyncClient(SHOP_ID, SECRET, transport=fake.transport(), middleware=[note])
    yield client, note
    client.close()


def test_a_lone_call_sees_its_callers_context(noted: tuple[ec.SyncClient, NoteTenant]) -> None:
    client, note = noted
    tenant.set("alone")
    client.customers.list()
    assert note.seen == ["alone"]


def test_each_thread_sees_its_own_context_while_others_run_the_loop(
    noted: tuple[ec.SyncClient, NoteTenant],
) -> None:
    client, note = noted
    start = threading.Barrier(8, timeout=30)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        tenant.set(name)
        try:
            start.wait()
            for _ in range(25):
                client.customers.list()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(note.seen) == sorted(f"t{n}" for n in range(8) for _ in range(25))
