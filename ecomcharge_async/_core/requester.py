"""The one request path every call takes: operation, method, path, body and decoder
in; the decoded value or the checked `Response` out (`RawResponse` keeps the latter).

A `Requester` holds what a client's calls share (base URL, headers, timeout,
retry policy) and the linked chain; each call's options travel down the
chain on its `Request`, so the layers need no special case for them. A non-2xx
answer becomes its error in `checked`: here, or in the retry layer when per-call
middleware sits above it (one coroutine level less a call).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Generic, TypeVar

from .._serde.codec import Decoder, StreamDecoder
from .errors import EcomChargeError, checked, request_id_of
from .http import Request, Response, new_request
from .middleware import Handler, Middleware, link
from .policy import RetryPolicy

T = TypeVar("T")

#: `route=` meaning the path is its own route: it holds no id.
SAME_AS_PATH = ""


def checking(call_next: Handler) -> Handler:
    """`call_next`, its non-2xx answers raised as their errors (what per-call layers see)."""

    async def handler(request: Request) -> Response:
        return checked(await call_next(request))

    return handler


def link_per_call(
    middleware: Sequence[Middleware], inner: Handler, *, inner_checks: bool = False
) -> Handler:
    """`inner` under the per-call `middleware`, each of which gets a 2xx or an error.

    `inner_checks`: `inner` raises its non-2xx answers itself (the retry layer can),
    so the innermost layer needs no `checking` coroutine between them.
    """
    handler = inner
    for layer in reversed(middleware):
        handler = link(
            (layer,), handler if inner_checks and handler is inner else checking(handler)
        )
    return handler


class RawResponse(Generic[T]):
    """A 2xx answer before decoding: what support asks for, and the value itself.

    `parse()` decodes the body into what the plain call returns.
    """

    __slots__ = ("_decode", "_response")

    def __init__(self, response: Response, decode: Decoder[T]) -> None:
        self._response = response
        self._decode = decode

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def request_id(self) -> str | None:
        """The `X-Request-Id` response header, or None."""
        return request_id_of(self._response.headers)

    @property
    def attempts(self) -> int:
        """How many attempts the call took (1: not retried)."""
        return self._response.attempts

    def parse(self) -> T:
        response = self._response
        return self._decode(response.body, status=response.status, headers=response.headers)

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, request_id={self.request_id!r})"


class Requester:
    """Builds each call's `Request`, sends it down the chain, checks and decodes the answer.

    `call` returns the decoded value, `send` the checked `Response` (a raw
    call keeps it; a streamed one reads its chunks). `handler` is the chain,
    linked once per original client and shared by its `with_options` requesters;
    `root` is that original's requester: closing it closes them all.
    """

    __slots__ = (
        "_json_headers",
        "base_url",
        "closed",
        "handler",
        "headers",
        "retry",
        "root",
        "timeout",
    )

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        handler: Handler,
        timeout: float | None,
        retry: RetryPolicy,
        root: Requester | None = None,
    ) -> None:
        self.base_url: str = base_url
        self.headers: dict[str, str] = dict(headers)
        self._json_headers = {**headers, "Content-Type": "application/json"}
        #: The linked chain: a call's `Request` in, its final `Response` out (else raised).
        self.handler: Handler = handler
        self.timeout: float | None = timeout
        self.retry: RetryPolicy = retry
        self.root: Requester = root or self
        self.closed: bool = False

    def _request(
        self, operation: str, method: str, path: str, body: bytes, route: str | None, stream: bool
    ) -> Request:
        if self.closed or self.root.closed:
            raise RuntimeError("this Client is closed; create a new one")
        return new_request(
            method,
            self.base_url + path,
            operation,
            path if route == SAME_AS_PATH else route,
            self._json_headers if body else self.headers,
            body,
            stream,
            self.timeout,
            self.retry,
        )

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        body: bytes,
        decode: Decoder[T],
        route: str | None = SAME_AS_PATH,
    ) -> T:
        """One call: its 2xx answer decoded.

        `route` is the path's template when the path holds ids, None when
        unknown (it might hold one); by default the path holds none.
        """
        request = self._request(operation, method, path, body, route, False)
        try:
            response = await self.handler(request)
            if not 200 <= response.status < 300:
                checked(response)
            return decode(response.body, status=response.status, headers=response.headers)
        except EcomChargeError as error:
            error.operation = operation
            raise

    async def send(
        self,
        operation: str,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        route: str | None = SAME_AS_PATH,
        stream: bool = False,
    ) -> Response:
        """One call: its 2xx `Response` as it came (its body in `chunks` when `stream`)."""
        request = self._request(operation, method, path, body, route, stream)
        try:
            return checked(await self.handler(request))
        except EcomChargeError as error:
            error.operation = operation
            raise


def items(response: Response, decode: StreamDecoder[T]) -> AsyncGenerator[T]:
    """The items of a streamed 2xx `response`, each yielded once complete."""
    chunks = response.chunks if response.chunks is not None else _single(response.body)
    return decode(chunks, status=response.status, headers=response.headers)


async def _single(body: bytes) -> AsyncIterator[bytes]:
    yield body
