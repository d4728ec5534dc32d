"""`HTTPTransport`: what the aiohttp and httpx transports do alike, written once.

The pool's slots, the body cap, the 407 of a proxy, the loop and close checks, ending the
calls in flight on close, and turning library errors into ours all live here. A backend adds
only what its library does its own way: `_open` (send a request, return once the status and
headers are in; the pool is made on first use), `_read` and `_read_chunk` (its body, whole
or piece by piece; `_arrived` if it can hand over a body already in without an await),
`_release` (give a connection back; `_abort` and `_close_pool` at close) and `_map_error`
(its exceptions as ours).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine, Mapping
from functools import partial
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from .._core.errors import APIConnectionError, APITimeoutError, stream_stalled
from .._core.http import Request, Response, is_success, new_response
from .._core.running_loop import LoopSeen
from . import proxy as _proxy
from .body import StreamedBody
from .common import (
    bound_loop,
    check_limit,
    check_max_body_size,
    check_timeout,
    closed_in_flight,
    no_answer,
)
from .deadlines import Deadlines, only_ours
from .pool import Slots
from .proxy import Progress, check_proxy, redact_url


class Head(Protocol):
    """A response as `_open` hands it over: its status and headers are in."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


#: The library's response (or the backend's wrapper of it), from `_open` to the other steps.
R = TypeVar("R", bound=Head)


class HTTPTransport(Generic[R]):
    """The transport contract over one HTTP library's connection pool.

    A request first takes one of `limit` pool slots (waiting at most
    `pool_timeout` seconds, then `PoolTimeoutError`: not sent), so the library
    never queues it inside the attempt's timer. The transport belongs to the
    event loop of its first request; `aclose()` ends the calls in flight with
    `RuntimeError` and closes the library's pool only if it created it.
    """

    #: Bounds `request.timeout` itself (see `Transport`): the client adds no timer.
    bounds_attempts = True
    #: The library and its version, for the client's User-Agent ("aiohttp/3.14.5").
    user_agent: ClassVar[str]
    #: What the library's pool is called in `repr` and in the constructor ("session").
    _pool_name: ClassVar[str]
    #: The library's and the OS's exceptions that `_map_error` reads.
    _failures: ClassVar[tuple[type[BaseException], ...]]

    def __init__(
        self,
        timeout: float | None,
        limit: int,
        pool_timeout: float | None,
        max_body_size: int,
        proxy: str | None,
        trust_env: bool,
        shared: bool,
    ) -> None:
        self._seconds = check_timeout(timeout)
        self._proxy = check_proxy(proxy, trust_env=trust_env, shared=shared)
        self._trust_env = trust_env
        # Through a proxy, each request's progress is traced: until its own headers
        # go out, a failure is the proxy's, and nothing was sent.
        self._traced = proxy is not None or trust_env
        self._shared = shared
        self._limit = check_limit(limit)
        self._slots = Slots(limit, check_timeout(pool_timeout, "pool_timeout"))
        self._max_body_size = check_max_body_size(max_body_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen = LoopSeen()
        self._closed = False
        # Tasks inside a call, and those of them that aclose() cancelled to end them.
        self._calls: dict[asyncio.Task[Any], int] = {}  # each with its cancellations then
        self._ended: set[asyncio.Task[Any]] = set()
        self._streams: set[R] = set()  # streamed bodies not yet given back
        self._deadlines = Deadlines()  # calls whose attempt this class bounds (`_bound`)

    def __repr__(self) -> str:
        owner = "shared" if self._shared else "own"
        proxy = f", proxy={redact_url(self._proxy)!r}" if self._proxy else ""
        return f"{type(self).__name__}({self._pool_name}={owner}, timeout={self._seconds}{proxy})"

    # What each backend provides.

    def _open(self, request: Request, progress: Progress | None, bounded: bool) -> Awaitable[R]:
        """Sends `request`; the response once its status and headers are in (`bounded`: its
        deadline ends the attempt, the library need bound only opening a connection)."""
        raise NotImplementedError

    def _bound(self, request: Request) -> float | None:
        """Seconds after which `_exchange` ends the attempt itself (None: the library bounds it)."""
        return None

    def _arrived(self, resp: R) -> bytes | None:
        """The whole body (held to the cap) if it is here already, without an await; else None."""
        return None

    async def _read(self, resp: R) -> bytes:
        """The whole body, held to the cap (see `body.read_capped`)."""
        raise NotImplementedError

    def _read_chunk(self, resp: R) -> Awaitable[bytes]:
        """The next piece of a streamed body as it arrives; b"" at its end."""
        raise NotImplementedError

    def _release(self, resp: R) -> Awaitable[None] | None:
        """Gives the response's connection back (closed, if its body was not read to the
        end); an awaitable when the library needs one (aiohttp's `release` does not)."""
        raise NotImplementedError

    async def _abort(self, resp: R) -> None:
        """Ends a streamed body still open at `aclose()`; its reader may be mid-read."""
        await self._let_go(resp)

    async def _let_go(self, resp: R) -> None:
        """`_release` awaited: the one place a stream's connection goes back."""
        releasing = self._release(resp)
        if releasing is not None:
            await releasing

    async def _close_pool(self) -> None:
        """Forgets the library's pool, closing it if the transport created it."""
        raise NotImplementedError

    def _map_error(
        self, exc: BaseException, url: str, where: str | None, progress: Progress | None
    ) -> APIConnectionError | None:
        """Ours for a library failure met sending to `url` (None: not a network failure)."""
        raise NotImplementedError

    # The contract.

    def send(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Sends `request` and reads its body whole (the call's coroutine, handed straight back)."""
        return self._exchange(request, False)

    def stream(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Like `send`, but a 2xx body is handed over as `Response.chunks`."""
        return self._exchange(request, True)

    async def _exchange(self, request: Request, streamed: bool) -> Response:
        task = self._ready()  # closed, another loop, or no task: say so before waiting
        if not self._slots.take_now():
            await self._slots.wait(request)
        progress = Progress() if self._traced else None
        self._calls[task] = task.cancelling()  # a call in flight, for `aclose()` to end
        bound = None if streamed else self._bound(request)
        if bound is not None:
            self._deadlines.add(task.get_loop(), task, bound)
        streaming = False  # from when a streamed body's reader gives the slot back
        # `try`, not a context manager: its objects would live as long as the call (GC work).
        try:
            resp = await self._open(request, progress, bound is not None)
            status = resp.status
            if streamed and is_success(status):
                streaming = True
                return self._stream_response(request, resp, status)
            try:
                body = self._arrived(resp)
                if body is None:
                    body = await self._read(resp)
            finally:
                releasing = self._release(resp)
                if releasing is not None:
                    await releasing
            if status == _proxy.PROXY_AUTH_REQUIRED:
                raise _proxy.auth_failed(self._where(request.url), request.url)
            return new_response(status, resp.headers, body)
        except BaseException as exc:
            self._raise_ours(exc, task, request, progress)
            raise
        finally:
            self._leave(task)
            if not streaming:
                self._slots.give()

    def _stream_response(self, request: Request, resp: R, status: int) -> Response:
        self._streams.add(resp)
        chunks = StreamedBody(partial(self._next_chunk, request, resp), partial(self._end, resp))
        return Response(status=status, headers=resp.headers, chunks=chunks)

    async def _next_chunk(self, request: Request, resp: R) -> bytes:
        """A streamed body's next piece. Each wait is a call of its own: closing the
        transport ends it, but never the reader's task between two pieces."""
        if self._closed:
            raise closed_in_flight(request)
        task = self._enter()
        try:
            return await self._read_chunk(resp)
        except BaseException as exc:
            try:
                self._raise_ours(exc, task, request, None)
            except APITimeoutError as error:
                # The library's read timer and the client's per-chunk bound measure the
                # same wait: whichever fires first, the stall reads the same.
                raise stream_stalled(request.timeout or self._seconds) from error.__cause__
            raise
        finally:
            self._leave(task)

    async def _end(self, resp: R) -> None:
        """A streamed body's end: its connection, and its slot, go back to the pool."""
        self._streams.discard(resp)
        try:
            with contextlib.suppress(*self._failures):  # failing as it closes: it is closed
                await self._let_go(resp)
        finally:
            self._slots.give()

    def _where(self, url: str) -> str | None:
        """`host:port` of the proxy a request to `url` goes through, if any."""
        return _proxy.proxy_address(self._proxy, url, trust_env=self._trust_env)

    # Loop, close, and the calls in flight.
    def _ready(self) -> asyncio.Task[Any]:
        """The running task, once the transport is known open and in its own loop."""
        task = asyncio.current_task(self._seen.running())  # no getpid(2) once seen
        if self._closed or task is None:
            what = "is closed" if self._closed else "must be used inside an asyncio task"
            raise RuntimeError(f"this {type(self).__name__} {what}")
        self._loop = bound_loop(type(self).__name__, self._loop, task.get_loop())
        return task

    def _enter(self) -> asyncio.Task[Any]:
        """The running task (`_ready`), registered as a call in flight for `aclose()` to end."""
        task = self._ready()
        self._calls[task] = task.cancelling()
        return task

    def _leave(self, task: asyncio.Task[Any]) -> None:
        before = self._calls.pop(task, 0)
        if self._deadlines.discard(task) or self._ended:  # else: no cancellation of ours
            # Cancellations of aclose() or of the deadline absorbed inside the library.
            closing = task in self._ended
            self._ended.discard(task)
            only_ours(task, closing + self._deadlines.took(task), before)

    def _raise_ours(
        self,
        exc: BaseException,
        task: asyncio.Task[Any],
        request: Request,
        progress: Progress | None,
    ) -> None:
        """Raises our error for `exc`, met by a call; returns when `exc` should travel on."""
        if isinstance(exc, asyncio.CancelledError):
            closing = task in self._ended
            self._ended.discard(task)
            ours = closing + self._deadlines.took(task)
            if only_ours(task, ours, self._calls.get(task, 0)):  # not the caller's cancel
                if closing:
                    raise closed_in_flight(request) from None
                raise no_answer(request.url, request.timeout or self._seconds) from None
            return
        if not isinstance(exc, self._failures):
            return
        if self._closed:
            raise closed_in_flight(request) from exc
        error = self._map_error(exc, request.url, self._where(request.url), progress)
        if error is not None:
            raise error from _proxy.cause(error, exc)

    async def aclose(self) -> None:
        if self._loop is not None and not self._closed:
            bound_loop(type(self).__name__, self._loop)
        self._closed = True
        self._slots.close()
        self._deadlines.close()
        # Closing a pool does not end every call through it (a shared one stays
        # open; httpx lets calls queued for a connection go on), so each call in
        # flight is cancelled, and `_raise_ours` turns that into the closed error.
        for task in self._calls.keys() - self._ended:
            self._ended.add(task)
            task.cancel()
        streams, self._streams = self._streams, set()
        for resp in streams:
            await self._abort(resp)
        await self._close_pool()
