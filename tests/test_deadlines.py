"""Attempts bounded by the transport's own deadlines: one loop timer for all calls in flight.

`AiohttpTransport` ends an attempt on a session of its own at its deadline
itself (aiohttp bounds only opening a connection), so a request costs no timer
of aiohttp's. Against real aiohttp.web servers on 127.0.0.1: what each request
schedules on the loop, calls with different timeouts ending in order while
others go on, and a connection that never opens reading as not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from conftest import HTTP_KINDS, http_transport

import ecomcharge_async as ec
from ecomcharge_async._transports.deadlines import only_ours
from ecomcharge_async.testing._server import run_app

RELEASE = web.AppKey("release", asyncio.Event)


async def _created(_request: web.Request) -> web.Response:
    return web.json_response({"id": "cst_1"}, status=201)


async def _stall(request: web.Request) -> web.Response:
    await request.app[RELEASE].wait()
    return web.Response(text="too late")


def _app() -> web.Application:
    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_post("/customers", _created)
    app.router.add_get("/stall", _stall)
    return app


@contextlib.asynccontextmanager
async def _serving() -> AsyncIterator[str]:
    app = _app()
    async with run_app(app, shutdown_timeout=0.1) as url:
        try:
            yield url
        finally:
            app[RELEASE].set()


@contextlib.contextmanager
def _server_in_a_thread() -> Iterator[str]:
    """The app served by a loop of its own, so the test's loop sees only the client's timers."""
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[str] = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with _serving() as url:
            ready.set_result(url)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(asyncio.wait_for(ready, 10), loop).result(10)
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


class CountingLoop(asyncio.SelectorEventLoop):
    """Counts the timers scheduled on it (`call_later` goes through `call_at`)."""

    timers = 0

    def call_at(self, when: float, callback: Callable[..., object], *args: Any, **kw: Any) -> Any:
        self.timers += 1
        return super().call_at(when, callback, *args, **kw)


def test_an_attempt_on_the_transport_s_own_session_schedules_no_timer_of_its_own() -> None:
    requests, concurrency = 60, 6

    async def main(url: str) -> int:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, CountingLoop)
        transport = ec.AiohttpTransport(timeout=30.0)
        create = ec.Request(method="POST", url=url + "/customers", body=b"{}")

        async def round_of(count: int, own: float | None) -> None:
            sent = [transport.send(create if own is None else _with(create, own))]
            sent += [transport.send(create) for _ in range(count - 1)]
            answers = await asyncio.gather(*sent)
            assert {answer.status for answer in answers} == {201}

        try:
            await round_of(concurrency, None)  # connections open; the deadline timer is set
            before = loop.timers
            for _ in range(requests // concurrency):
                await round_of(concurrency, 45.0)  # a call's own timeout, later than the rest
            return loop.timers - before
        finally:
            await transport.aclose()

    with _server_in_a_thread() as url, asyncio.Runner(loop_factory=CountingLoop) as runner:
        timers = runner.run(main(url))
    # aiohttp's per-request timeout would schedule one timer per request (60).
    assert timers <= 2


def _with(request: ec.Request, timeout: float) -> ec.Request:
    return attrs.evolve(request, timeout=timeout)


async def test_calls_with_different_timeouts_end_in_order_while_others_go_on() -> None:
    async with _serving() as url:
        transport = ec.AiohttpTransport(timeout=30.0)
        stall = ec.Request(method="GET", url=url + "/stall")
        try:
            # 2.9 s apart: only a loop stalled that long could end both in one turn.
            longer = asyncio.create_task(transport.send(_with(stall, 3.0)))
            shorter = asyncio.create_task(transport.send(_with(stall, 0.1)))
            with pytest.raises(ec.APITimeoutError, match=r"within 0\.1 s"):
                await shorter  # the timer moved earlier for the shorter deadline
            assert not longer.done()
            created = await transport.send(
                ec.Request(method="POST", url=url + "/customers", body=b"{}")
            )
            assert created.status == 201  # the connection pool goes on meanwhile
            with pytest.raises(ec.APITimeoutError, match=r"within 3 s"):
                await longer  # and the timer was set again for the later one
        finally:
            await transport.aclose()


async def test_a_caller_s_cancellation_is_its_own_not_a_timeout() -> None:
    async with _serving() as url:
        transport = ec.AiohttpTransport(timeout=30.0)
        try:
            call = asyncio.create_task(transport.send(ec.Request(method="GET", url=url + "/stall")))
            for _ in range(50):  # loop steps, not time: until the request is on its way
                await asyncio.sleep(0)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            created = await transport.send(
                ec.Request(method="POST", url=url + "/customers", body=b"{}")
            )
            assert created.status == 201
        finally:
            await transport.aclose()


async def test_a_deadline_in_a_task_cleaning_up_after_a_cancellation_is_a_timeout() -> None:
    # A task cancelled once, sending from its `except CancelledError`: the deadline's
    # cancellation is still the transport's, as asyncio.timeout() would judge it.
    async with _serving() as url:
        transport = ec.AiohttpTransport(timeout=30.0)
        stall = _with(ec.Request(method="GET", url=url + "/stall"), 0.1)
        never = asyncio.Event()

        async def cleaning_up() -> BaseException:
            try:
                await never.wait()
            except asyncio.CancelledError:
                try:
                    await transport.send(stall)
                except (asyncio.CancelledError, ec.APITimeoutError) as exc:
                    return exc
                raise
            raise AssertionError("not cancelled")

        try:
            task = asyncio.create_task(cleaning_up())
            await asyncio.sleep(0)
            task.cancel()
            ended = await task
            assert isinstance(ended, ec.APITimeoutError), repr(ended)
            assert task.cancelling() == 1  # the task's own cancellation is left as it was
        finally:
            await transport.aclose()


@contextlib.contextmanager
def _full_backlog() -> Iterator[int]:
    """A loopback port whose accept queue is full: a new connection never opens."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_a_connection_that_never_opens_in_time_is_known_not_sent(kind: str) -> None:
    transport = http_transport(kind, timeout=0.3)
    try:
        with _full_backlog() as port, pytest.raises(ec.ConnectError, match="timed out connecting"):
            await transport.send(
                ec.Request(method="POST", url=f"http://127.0.0.1:{port}/customers", body=b"{}")
            )
    finally:
        await transport.aclose()


@pytest.mark.parametrize(("ours", "callers", "only"), [(0, 0, False), (1, 0, True), (2, 0, True),
                                                        (1, 1, False), (2, 1, False)])  # fmt: skip
@pytest.mark.parametrize("before", [0, 1])
async def test_a_call_ended_by_aclose_and_its_deadline_at_once_is_ended_by_the_transport(
    ours: int, callers: int, only: bool, before: int
) -> None:
    ended = asyncio.Event()

    async def call() -> None:
        await ended.wait()

    task = asyncio.create_task(call())
    for _ in range(before + ours + callers):  # `before`: cancelled before the call began
        task.cancel()
    assert only_ours(task, ours, before) is only
    assert task.cancelling() == before + callers  # the caller's own are left to travel
    ended.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
