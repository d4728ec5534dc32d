"""Ctrl-C and other exceptions while a sync call's thread leads the SDK's loop or waits for it:
the call is cancelled on the loop, never interrupted inside one of its callbacks, and the
next call works."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import test_sync
from sync_support import NoteCancel
from test_sync import NEW
from test_sync_leading import LOOP_THREAD, Gate, parked, tagged

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault

# The fixtures that serve the fake on loopback and build sync clients, shared.
loopback = test_sync.loopback
make_sync = test_sync.make_sync


def test_the_main_thread_does_not_lead_while_ctrl_c_has_a_handler_of_the_applications(
    make_sync: Callable[..., ec.SyncClient],
) -> None:
    gate = Gate()
    client = make_sync("fake", middleware=[gate])
    mine = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        client.customers.list()
    finally:
        signal.signal(signal.SIGINT, mine)
    client.customers.list()
    assert gate.threads[""] == [LOOP_THREAD, "MainThread"]


def test_ctrl_c_while_the_main_thread_leads_cancels_the_call_outside_the_loop(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    assert threading.current_thread() is threading.main_thread()  # where Ctrl-C lands
    client = make_sync("aiohttp", retry=None)
    assert client.customers.list() == []  # a connection kept alive in the pool
    fake.inject(Fault.delay(60))  # the server holds the next request
    interrupter = threading.Thread(target=_interrupt_once, args=(fake, 2))
    interrupter.start()
    with pytest.raises(KeyboardInterrupt) as interrupted:
        client.customers.list()
    interrupter.join(30)
    # Raised by the leader once the loop stopped, not from inside one of its callbacks.
    assert interrupted.traceback[-1].path.name == "loop_thread.py"
    assert interrupted.traceback[-1].name == "_lead"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert parked()
    made = client.customers.create(NEW)
    assert client.customers.get(made.id) == made
    assert fake.customers == [made]


def _interrupt_once(fake: FakeEcomCharge, requests: int) -> None:
    """SIGINT to the main thread once the server has seen `requests` requests."""
    for _ in range(30_000):
        if fake.request_count >= requests:
            break
        threading.Event().wait(0.001)
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def _list_interrupted_under_a_handler_of_its_own(
    client: ec.SyncClient, interrupter: threading.Thread
) -> None:
    """`client.customers.list()` in the main thread, ended by `interrupter`'s SIGINT under an
    application's handler that raises (so the main thread never holds the loop)."""

    def raising(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    mine = signal.signal(signal.SIGINT, raising)
    try:
        interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            client.customers.list()
    finally:
        signal.signal(signal.SIGINT, mine)
    interrupter.join(30)


def test_ctrl_c_under_a_handler_of_the_applications_cancels_the_call_it_waits_for(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    note_cancel = NoteCancel()
    client = make_sync("fake", retry=None, middleware=[note_cancel])
    fake.inject(Fault.delay(60))
    _list_interrupted_under_a_handler_of_its_own(
        client, threading.Thread(target=_interrupt_once, args=(fake, 1))
    )
    assert note_cancel.cancelled.wait(10)
    assert client.customers.list() == []


def test_an_exception_out_of_the_loop_a_caller_leads_has_its_call_cancelled_there(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    gate = Gate("held")
    cancelled_in: list[str] = []

    async def exit_from_a_callback(request: ec.Request, call_next: ec.Handler) -> ec.Response:
        if request.headers.get("X-Gate") == "held":  # raised by a loop callback, not the task
            asyncio.get_running_loop().call_soon(sys.exit, 3)
        try:
            return await call_next(request)
        except asyncio.CancelledError:
            cancelled_in.append(threading.current_thread().name)
            raise

    client = make_sync("fake", middleware=[exit_from_a_callback, gate])
    with pytest.raises(SystemExit):
        tagged(client, "held").customers.create(NEW)
    assert gate.threads["held"] == ["MainThread"]
    assert parked()  # the loop thread took the loop over, cancelled the call, parked it
    assert cancelled_in == [LOOP_THREAD]
    assert fake.customers == []
    made = client.customers.create(NEW)
    assert client.customers.list() == [made]
    assert gate.threads[""] == ["MainThread", "MainThread"]


def test_ctrl_c_while_the_main_thread_waits_among_other_threads_calls_stalls_none_of_them(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    # Ctrl-C lands in the main thread while other threads' calls run and end on the loop:
    # their callers are all woken, and the client works on.
    client = make_sync("fake", retry=None)
    fake.inject(Fault.delay(60))  # the main thread's call, the first request, is held
    results: list[list[ec.Customer]] = []

    def calls() -> None:
        for _ in range(20):
            results.append(client.customers.list())

    workers = [threading.Thread(target=calls) for _ in range(4)]

    def interrupt_amid_the_others() -> None:
        for _ in range(30_000):  # the main thread's request is in (a bound, not a timing)
            if fake.request_count >= 1:
                break
            threading.Event().wait(0.001)
        for worker in workers:
            worker.start()
        _interrupt_once(fake, 20)  # once the others' calls run and end on the loop

    _list_interrupted_under_a_handler_of_its_own(
        client, threading.Thread(target=interrupt_amid_the_others)
    )
    for worker in workers:
        worker.join(30)
        assert not worker.is_alive()
    assert results == [[]] * 80
    assert client.customers.list() == []
