"""`SyncClient`: the async `Client`, run on the SDK's own loop for code without a loop."""

from __future__ import annotations

import builtins
import functools
import threading
import weakref
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from . import process_loop as _loops
from .client import DEFAULT_TIMEOUT, OMITTED, Client, _Omitted
from .http import Transport
from .loop_thread import LoopThread
from .middleware import Middleware
from .models import Customer, NewCustomer
from .policy import DEFAULT_RETRY, RetryPolicy
from .requester import RawResponse
from .sync_request import SyncRequests

T = TypeVar("T")

#: Customers fetched per hop to the SDK's loop while iterating (about one 64 KiB chunk).
ITER_BATCH = 256

#: Clients a forked child inherited: kept so that nothing ever closes the parent's sockets.
_from_parent: list[Client] = []


class SyncClient(SyncRequests):
    """The eComCharge API client for code without an event loop: the same calls, no `await`.

    It takes exactly `Client`'s arguments (and environment variables), and runs
    an async `Client` built from them on an event loop the SDK keeps (one per
    process, shared by every `SyncClient`), run by the calling thread itself
    when no other call is in flight, else by a background thread. The
    calls, their return values, their errors and the middleware (still async)
    are the async client's. One client can be shared by any number of threads;
    after `os.fork()` the child builds its own connections on first use; a call
    from a thread whose event loop is running (a notebook) works, blocking that
    loop meanwhile. Close it with `close()` or a `with` block; one still open at
    interpreter exit is closed then.
    """

    def __init__(
        self,
        shop_id: str | None = None,
        secret_key: str | None = None,
        *,
        base_url: str | None = None,
        transport: Transport | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        middleware: Sequence[Middleware] = (),
        attempt_middleware: Sequence[Middleware] = (),
        timeout: float | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
    ) -> None:
        # Built again in a forked child (with the same transport, if one was given).
        self._build: Callable[[], Client] = functools.partial(
            Client,
            shop_id,
            secret_key,
            base_url=base_url,
            transport=transport,
            retry=retry,
            middleware=middleware,
            attempt_middleware=attempt_middleware,
            timeout=timeout,
            headers=headers,
            user_agent=user_agent,
        )
        self._root = self
        # The `with_options` calls that derived this client from its root, in order.
        self._derivation: tuple[dict[str, Any], ...] = ()
        self._setup(self._build())

    def _setup(self, client: Client) -> None:
        self._client = client
        self._runner: LoopThread | None = None  # bound on first call
        self._generation = _loops.generation
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._closed = False
        self._lock = threading.Lock()

    def _bound(self) -> tuple[LoopThread, Client]:
        """The loop and the async client this process's calls use."""
        runner = self._runner
        if (
            runner is None
            or self._generation != _loops.generation
            or self._closed
            or self._root._closed
        ):
            return self._bind()
        return runner, self._client

    def _bind(self) -> tuple[LoopThread, Client]:
        if self.closed:
            raise RuntimeError("this SyncClient is closed; create a new one")
        with self._lock:
            if self._generation != _loops.generation:
                self._rebuild()
            runner = self._runner
            if runner is None:
                runner = self._runner = _loops.loop_thread()
                if self._root is self:  # the transport's owner: closed at exit if still open
                    runner.clients.add(self._client)
                    self._finalizer = weakref.finalize(self, runner.forget, self._client)
                    self._finalizer.atexit = False  # closed at exit with the loop
            return runner, self._client

    def _rebuild(self) -> None:
        """In a forked child: a client of our own, the parent's left as it was."""
        _from_parent.append(self._client)
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._root is self:
            client = self._build()
        else:
            client = self._root._bound()[1]
            for options in self._derivation:
                client = client.with_options(**options)
        self._client = client
        self._runner = None
        self._generation = _loops.generation

    def _run(self, call: Callable[[Client], Coroutine[Any, Any, T]]) -> T:
        runner, client = self._bound()
        return runner.run(call(client))

    @property
    def customers(self) -> SyncCustomers:
        """The customer calls: `create`, `get`, `list` and `iter`."""
        return SyncCustomers(self)

    @property
    def shop_id(self) -> str:
        return self._client.shop_id

    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def retry(self) -> RetryPolicy | None:
        return self._client.retry

    @property
    def timeout(self) -> float | None:
        """Seconds each attempt may take (None: no limit)."""
        return self._client.timeout

    @property
    def closed(self) -> bool:
        return self._closed or self._root._closed

    def with_options(
        self,
        *,
        timeout: float | _Omitted | None = OMITTED,
        retry: RetryPolicy | _Omitted | None = OMITTED,
        headers: Mapping[str, str] | None = None,
    ) -> SyncClient:
        """A client for some calls, sharing this one's connections: see `Client.with_options`."""
        options: dict[str, Any] = {"timeout": timeout, "retry": retry, "headers": headers}
        client = self._bound()[1].with_options(**options)
        derived = object.__new__(SyncClient)
        derived._build = self._build
        derived._root = self._root
        derived._derivation = (*self._derivation, options)
        derived._setup(client)
        return derived

    def close(self) -> None:
        """Close the client (and its transport, unless it came from `with_options`).

        Calling it again does nothing.
        """
        if self.closed:
            self._closed = True
            return
        runner, client = self._bound()
        self._closed = True
        if self._finalizer is not None:
            self._finalizer.detach()
        runner.clients.discard(client)
        runner.run(client.aclose())

    def __enter__(self) -> SyncClient:
        if self.closed:
            raise RuntimeError("this SyncClient is closed; create a new one")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SyncClient(shop_id={self.shop_id!r}, base_url={self.base_url!r})"


class SyncCustomers:
    """`client.customers` of a `SyncClient`: the calls of `Customers`, without `await`."""

    __slots__ = ("_owner",)

    def __init__(self, owner: SyncClient) -> None:
        self._owner = owner

    @property
    def with_raw_response(self) -> SyncCustomersWithRawResponse:
        """The same calls, returning a `RawResponse` (status, headers, request id)."""
        return SyncCustomersWithRawResponse(self._owner)

    def create(self, customer: NewCustomer) -> Customer:
        """POST /customers. Raises `ValidationError` (422) with per-field errors."""
        return self._owner._run(lambda client: client.customers.create(customer))

    def get(self, customer_id: str) -> Customer:
        """GET /customers/{id}. Raises `NotFoundError` when there is no such customer."""
        return self._owner._run(lambda client: client.customers.get(customer_id))

    def list(self) -> builtins.list[Customer]:
        """GET /customers: every customer of the shop, decoded at once (small shops)."""
        return self._owner._run(lambda client: client.customers.list())

    def iter(self) -> Generator[Customer, None, None]:
        """GET /customers, streamed: customers one by one, in flat memory.

        A generator: leaving the loop early and calling `close()` (or using
        `contextlib.closing`) gives the connection back at once. Customers
        cross from the SDK's loop in batches of up to `ITER_BATCH`.
        """
        runner, client = self._owner._bound()
        stream = client.customers.iter()
        try:
            while True:
                batch, error = runner.run(_take(stream, ITER_BATCH))
                yield from batch
                if error is not None:
                    raise error
                if len(batch) < ITER_BATCH:
                    return
        finally:
            runner.close_stream(stream)


async def _take(stream: Any, count: int) -> tuple[builtins.list[Customer], BaseException | None]:
    """Up to `count` customers; a short batch means the end. An error raised after
    some customers comes back with them, to be raised once they are yielded."""
    batch: builtins.list[Customer] = []
    try:
        while len(batch) < count:
            batch.append(await anext(stream))
    except StopAsyncIteration:
        pass
    except Exception as exc:
        if not batch:
            raise
        return batch, exc
    return batch, None


class SyncCustomersWithRawResponse:
    """`client.customers.with_raw_response` of a `SyncClient`: each call returns a `RawResponse`."""

    __slots__ = ("_owner",)

    def __init__(self, owner: SyncClient) -> None:
        self._owner = owner

    def create(self, customer: NewCustomer) -> RawResponse[Customer]:
        """POST /customers; `parse()` gives the created `Customer`."""
        return self._owner._run(lambda client: client.customers.with_raw_response.create(customer))

    def get(self, customer_id: str) -> RawResponse[Customer]:
        """GET /customers/{id}; `parse()` gives the `Customer`."""
        return self._owner._run(lambda client: client.customers.with_raw_response.get(customer_id))

    def list(self) -> RawResponse[builtins.list[Customer]]:
        """GET /customers; `parse()` gives the list of `Customer`."""
        return self._owner._run(lambda client: client.customers.with_raw_response.list())
