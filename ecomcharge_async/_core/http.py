"""The transport boundary: our own request and response values and the protocol.

No type of any HTTP library crosses this boundary, so anyone can write a
transport (aiohttp, httpx, an in-memory fake) by implementing two coroutines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from .policy import RetryPolicy

_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy of `headers` safe to print: credentials are replaced by `<redacted>`."""
    return {
        name: "<redacted>" if name.lower() in _SENSITIVE_HEADERS else value
        for name, value in headers.items()
    }


def is_success(status: int) -> bool:
    """2xx: the one definition of an answer the SDK returns instead of raising."""
    return 200 <= status < 300


def find_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name` in `headers`, matched case-insensitively."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _headers_repr(headers: Mapping[str, str]) -> str:
    return repr(redact_headers(headers))


def _body_repr(body: bytes) -> str:
    # Bodies carry customer personal data: show the size, never the content.
    return f"<{len(body)} bytes>"


def _copied_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    # A plain dict copy, not a read-only proxy: aiohttp and httpx take a dict on
    # their fast path, and a proxy cost ~10% of a create's CPU. Change headers
    # with attrs.evolve(request, headers={...}).
    return dict(headers)


@attrs.frozen(kw_only=True)
class Request:
    """One HTTP request as the call hands it to the middleware chain.

    `operation` says which call it is (`customers.create`; `request` for
    `client.request()`), `route` its path with ids as placeholders (None:
    unknown), `attempt` which try of the call this is (1 = the first).
    """

    method: str
    url: str
    #: Which call this is (`customers.create`): middleware, logs and tracing read
    #: it instead of parsing the URL. `client.request()` calls say `request`.
    operation: str = "request"
    #: The path relative to the base URL with its ids as placeholders
    #: (`/customers/{customer_id}`), safe for metrics and traces; None: unknown.
    route: str | None = None
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_copied_headers, repr=_headers_repr
    )
    body: bytes = attrs.field(default=b"", repr=_body_repr)
    #: Ask a `StreamingTransport` to hand over a 2xx body as `Response.chunks`.
    stream: bool = False
    #: Seconds one attempt may take once it has a connection; None: the
    #: transport's own bound (if any). Set per call by the client.
    timeout: float | None = None
    #: The retry policy of this call (None: the retry middleware's own).
    retry: RetryPolicy | None = attrs.field(default=None, repr=False)
    #: Which attempt of the call this is (1 = the first); the retry middleware
    #: sets it on each retry, so per-attempt layers and logs can read it.
    attempt: int = 1


@attrs.frozen(kw_only=True)
class Response:
    """One HTTP response as a transport returns it: status, headers, whole body."""

    status: int
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_copied_headers, repr=_headers_repr
    )
    body: bytes = attrs.field(default=b"", repr=_body_repr)
    #: A streamed 2xx body, still to be read (then `body` is empty). The
    #: iterator owns the connection: exhaust it or `aclose()` it.
    chunks: AsyncIterator[bytes] | None = attrs.field(default=None, eq=False, repr=False)
    #: How many attempts the call took to get this answer (set by the retry middleware).
    attempts: int = attrs.field(default=1, eq=False, repr=False)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return find_header(self.headers, name)


def filled_then(cls: type, init: Callable[..., None]) -> Callable[..., Any]:
    """A class of `cls`'s very layout whose `init` stores each field plainly, then makes
    the instance a `cls`: a frozen attrs `__init__` sets each through `object.__setattr__`,
    about 1,400 instructions a field on CPython 3.11 (a `Request`: 17k; this: a third).
    (Both `object` methods, so its attribute stores are the interpreter's own.)"""
    plain = {"__setattr__": object.__setattr__, "__delattr__": object.__delattr__}
    return type(f"_Filling{cls.__name__}", (cls,), {"__slots__": (), **plain, "__init__": init})


def _fill_request(
    self: Any,
    method: str,
    url: str,
    operation: str,
    route: str | None,
    headers: Mapping[str, str],
    body: bytes,
    stream: bool,
    timeout: float | None,
    retry: RetryPolicy | None,
) -> None:
    self.method, self.url, self.operation, self.route = method, url, operation, route
    self.headers = dict(headers)  # as `_copied_headers`
    self.body, self.stream, self.timeout, self.retry, self.attempt = body, stream, timeout, retry, 1
    self.__class__ = Request


def _fill_response(self: Any, status: int, headers: Mapping[str, str], body: bytes) -> None:
    self.status, self.headers, self.body = status, dict(headers), body  # as `_copied_headers`
    self.chunks, self.attempts = None, 1
    self.__class__ = Response


#: `Request(method=..., ..., retry=...)` (attempt 1), built for the cost of a plain class.
new_request: Callable[
    [str, str, str, str | None, Mapping[str, str], bytes, bool, float | None, RetryPolicy | None],
    Request,
] = filled_then(Request, _fill_request)
#: `Response(status=..., headers=..., body=...)`, built for the cost of a plain class.
new_response: Callable[[int, Mapping[str, str], bytes], Response] = filled_then(
    Response, _fill_response
)


@runtime_checkable
class Transport(Protocol):
    """Sends a `Request` and returns a `Response`; raises only our own errors.

    `ConnectError` when the request surely never left (refused, DNS, TLS
    handshake); `APITimeoutError` or `APIConnectionError` when it may have
    reached the server; `DecodeError` for a 2xx body it refuses to hold (over
    a size cap). Non-2xx answers are returned, not raised. Once closed, it
    raises `RuntimeError`, also for calls that were in flight. The client
    bounds each call by `request.timeout`, unless the transport says it does
    so itself, from when the request has a connection (`bounds_attempts = True`
    as a class attribute, as the SDK's HTTP transports do).
    """

    async def send(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


#: Marks a transport that bounds each request by `request.timeout` itself,
#: counted from when the request has a connection (the client then adds no
#: timer of its own). Set it as a class attribute: `bounds_attempts = True`.
BOUNDS_ATTEMPTS = "bounds_attempts"


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    """A transport that can also stream a body instead of reading it whole.

    `stream(request)` returns once the status and headers are in. A 2xx body
    comes as `Response.chunks`; any other answer is read whole into `body`, so
    retry and error mapping treat it exactly as `send` would. Transports
    without `stream` are still fine: the client falls back to `send`.
    """

    async def stream(self, request: Request) -> Response: ...
