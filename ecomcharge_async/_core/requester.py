"""The one request path every service uses: method, path, body and decoder in;
the decoded value, or a `RawResponse`, out.

A `Requester` holds what a client's calls share (base URL, headers, timeout,
retry policy) and the linked chain; the call's options travel down the chain
on the `Request`, so the layers need no special case for per-call options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

from .errors import error_from_response, request_id_of
from .http import Request, Response, is_success
from .middleware import Handler
from .policy import RetryPolicy

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Decoder(Protocol[T_co]):
    """Turns a 2xx body into the value a call returns (`DecodeError` if it cannot)."""

    def __call__(
        self, body: bytes, /, *, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> T_co: ...


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
    """Builds each call's `Request`, sends it through the chain, checks and decodes.

    `check_open` raises when the owning client is closed. The chain (`handler`)
    is linked once per original client and shared by its `with_options` copies;
    `unchecked` says it may return a non-2xx (a per-call middleware can).
    """

    __slots__ = (
        "_check_open",
        "_headers",
        "_json_headers",
        "_unchecked",
        "base_url",
        "handler",
        "retry",
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
        check_open: Callable[[], None],
        unchecked: bool = True,
    ) -> None:
        self.base_url: str = base_url
        self._headers = dict(headers)
        self._json_headers = {**headers, "Content-Type": "application/json"}
        #: The linked chain: a call's `Request` in, its 2xx `Response` out (else raised).
        self.handler: Handler = handler
        self.timeout: float | None = timeout
        self.retry: RetryPolicy = retry
        self._check_open = check_open
        # Whether the chain may return a non-2xx: only a per-call middleware can
        # (the retry layer raises for every other answer), so only then is it checked.
        self._unchecked = unchecked

    def request(
        self, method: str, path: str, body: bytes = b"", *, stream: bool = False
    ) -> Request:
        """The `Request` for one call (raises first if the client is closed)."""
        self._check_open()
        return Request(
            method=method,
            url=self.base_url + path,
            headers=self._json_headers if body else self._headers,
            body=body,
            stream=stream,
            timeout=self.timeout,
            retry=self.retry,
        )

    def finish(self, response: Response, decode: Decoder[T]) -> T:
        """The call's value: `response` checked, then decoded."""
        response = self._checked(response)
        return decode(response.body, status=response.status, headers=response.headers)

    def _checked(self, response: Response) -> Response:
        """`response`, or the error it maps to raised.

        Non-2xx answers are raised by the retry layer (with `.attempts`); only
        one made up by a per-call middleware gets here (`_unchecked`).
        """
        if self._unchecked and not is_success(response.status):
            raise error_from_response(response)
        return response

    async def send(self, method: str, path: str, body: bytes, decode: Decoder[T]) -> T:
        """One call through the chain: its 2xx answer decoded.

        The service's hot calls spell out these steps (`request`, the chain,
        `finish`) in their own coroutine instead, so that a call in flight
        holds one coroutine less.
        """
        return self.finish(await self.handler(self.request(method, path, body)), decode)

    async def respond(
        self, method: str, path: str, body: bytes = b"", *, stream: bool = False
    ) -> Response:
        """One call, its 2xx `Response` as it came (a streamed body when `stream`)."""
        return self._checked(await self.handler(self.request(method, path, body, stream=stream)))

    async def send_raw(
        self, method: str, path: str, body: bytes, decode: Decoder[T]
    ) -> RawResponse[T]:
        """One call, its answer kept raw; `parse()` decodes it."""
        return RawResponse(await self.respond(method, path, body), decode)
