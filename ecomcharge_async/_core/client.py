"""`Client`: configuration, chain assembly, lifecycle and the generic request."""

from __future__ import annotations

import enum
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, overload

from .._serde.cast import decoder_for, encode_json
from .customers import Customers
from .durations import seconds
from .headers import extra_headers, merged
from .headers import user_agent as build_user_agent
from .http import Response, Transport
from .middleware import LoggingMiddleware, Middleware, check_middleware, companions, link
from .policy import DEFAULT_RETRY, NO_RETRIES, RetryPolicy
from .requester import RawResponse, Requester, link_per_call
from .retry import RetryMiddleware
from .settings import basic_auth, check_base_url, check_credential, setting
from .transport_link import TransportLink

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.ecomcharge.com"
DEFAULT_TIMEOUT = 30.0


class _Omitted(enum.Enum):
    OMITTED = "omitted"


OMITTED = _Omitted.OMITTED


def _check_retry(retry: RetryPolicy | None) -> RetryPolicy | None:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
    return retry


def default_transport() -> Transport:
    """An `AiohttpTransport`, imported only now: a client on another transport never loads aiohttp.

    It bounds each attempt by the request's timeout with aiohttp's own timer
    (no second timer per call), once it has a connection.
    """
    from .._transports.aiohttp_transport import AiohttpTransport

    return AiohttpTransport(timeout=None)


class Client:
    """The eComCharge API client. Share one for the life of your app.

    Credentials and base URL default to the `ECOMCHARGE_SHOP_ID`,
    `ECOMCHARGE_SECRET_KEY` and `ECOMCHARGE_BASE_URL` environment variables.
    `timeout` bounds each attempt in seconds, counted once the request has a
    connection (None: no limit); `retry` says how failed attempts are retried
    (None: never). `headers` go with every request; `user_agent` names your app
    in the User-Agent, which also names the transport's HTTP library when it
    says (a `user_agent` class attribute). The client closes its transport on
    `aclose()`; an `AiohttpTransport` in turn closes only a session it created.
    `with_options()` derives a client for some calls that shares all of this.

    The chain, linked once here, outermost first: `middleware` (once per call:
    sees the request once and the final outcome, a 2xx `Response` or the error
    about to be raised), retry, `attempt_middleware` (once per attempt: sees
    every response of every attempt, any status), the per-attempt companions
    the per-call middleware offer (their `attempt_middleware` attribute),
    logging, then the transport.
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
        shop = check_credential(
            "shop_id", "ECOMCHARGE_SHOP_ID", setting(shop_id, "ECOMCHARGE_SHOP_ID")
        )
        secret = check_credential(
            "secret_key", "ECOMCHARGE_SECRET_KEY", setting(secret_key, "ECOMCHARGE_SECRET_KEY")
        )
        if ":" in shop:
            raise ValueError("shop_id must not contain ':' (HTTP Basic auth forbids it)")
        attempt_timeout = seconds("timeout", timeout, none_ok=True)
        checked_retry = _check_retry(retry)
        per_call = check_middleware("middleware", middleware)
        per_attempt = check_middleware("attempt_middleware", attempt_middleware)
        api_url = check_base_url(setting(base_url, "ECOMCHARGE_BASE_URL") or DEFAULT_BASE_URL)
        checked_headers = extra_headers(headers)
        transport = transport or default_transport()
        product = getattr(transport, "user_agent", None)
        common = {
            "Authorization": basic_auth(shop, secret),
            "Accept": "application/json",
            "User-Agent": build_user_agent(
                user_agent, product if isinstance(product, str) else None
            ),
        }
        # With retry=None the retry layer still runs once, so errors look the same. Each
        # request carries its call's policy; this one serves a request a middleware
        # built anew (use attrs.evolve to keep a call's options).
        inner = link(
            (
                # Under per-call middleware the retry layer raises a non-2xx itself.
                RetryMiddleware(checked_retry or NO_RETRIES, checks=bool(per_call)),
                *per_attempt,
                *companions(per_call),
                LoggingMiddleware(),
            ),
            TransportLink(transport),
        )
        requester = Requester(
            base_url=api_url,
            headers=merged(common, checked_headers),
            handler=link_per_call(per_call, inner, inner_checks=bool(per_call)),
            timeout=attempt_timeout,
            retry=checked_retry or NO_RETRIES,
        )
        self._setup(shop, transport, checked_retry, requester)

    def _setup(
        self, shop_id: str, transport: Transport, retry: RetryPolicy | None, requester: Requester
    ) -> None:
        self.shop_id = shop_id
        self.base_url: str = requester.base_url
        self.retry: RetryPolicy | None = retry
        self._transport: Transport = transport
        self._requester = requester
        self.customers: Customers = Customers(requester)

    def with_options(
        self,
        *,
        timeout: float | _Omitted | None = OMITTED,
        retry: RetryPolicy | _Omitted | None = OMITTED,
        headers: Mapping[str, str] | None = None,
    ) -> Client:
        """A client for some calls: this one, but with the options given.

        It shares this client's transport, connection pool and middleware chain,
        so it is cheap enough to make per call. `retry=None` means one attempt;
        `headers` are added to this client's. Closing it leaves the transport
        open; closing this client closes the transport under both.
        """
        self._check_open()
        api = self._requester
        new_retry = self.retry if retry is OMITTED else _check_retry(retry)
        requester = Requester(
            base_url=api.base_url,
            headers=api.headers if headers is None else merged(api.headers, extra_headers(headers)),
            handler=api.handler,
            timeout=api.timeout
            if timeout is OMITTED
            else seconds("timeout", timeout, none_ok=True),
            retry=new_retry or NO_RETRIES,
            root=api.root,
        )
        derived = object.__new__(Client)
        derived._setup(self.shop_id, self._transport, new_retry, requester)
        return derived

    @property
    def with_raw_response(self) -> ClientWithRawResponse:
        """`request()` returning a `RawResponse` (status, headers, request id, `parse()`)."""
        return ClientWithRawResponse(self._requester)

    @overload
    def request(
        self, method: str, path: str, *, json: Any = None, cast: None = None
    ) -> Coroutine[Any, Any, Any]: ...

    @overload
    def request(
        self, method: str, path: str, *, json: Any = None, cast: type[T]
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def request(
        self, method: str, path: str, *, json: Any = None, cast: Any
    ) -> Coroutine[Any, Any, Any]: ...

    def request(
        self, method: str, path: str, *, json: Any = None, cast: Any = None
    ) -> Coroutine[Any, Any, Any]:
        """Any endpoint, e.g. `await client.request("GET", "/plans", cast=list[Plan])`.

        The same auth, headers, timeout, retries, errors, middleware, logging
        and tracing as `client.customers`: a POST that may have reached the
        server is never replayed. `path` is relative to the base URL; `json` is
        sent as the JSON body (attrs instances through the converter). It
        returns the decoded JSON (None for an empty body), or with `cast=` the
        value the public converter structures (an attrs class and a `list` of
        one decode on the fast path); a 2xx it cannot read is a `DecodeError`.
        The `Request` says `operation="request"` and has no `route` (the path
        may hold an id, which traces must not).
        """
        method, path, body = _generic(method, path, json)
        return self._requester.call("request", method, path, body, decoder_for(cast), None)

    def send(
        self, method: str, path: str, body: bytes = b"", *, stream: bool = False
    ) -> Coroutine[Any, Any, Response]:
        """One API request through the chain, body as given: its 2xx `Response` as it came.

        With `stream=True` a 2xx body arrives as `Response.chunks` (exhaust or
        `aclose()` it). Like `request()`, its `operation` is `request`.
        """
        method, path, _ = _generic(method, path, None)
        return self._requester.send("request", method, path, body, route=None, stream=stream)

    def __repr__(self) -> str:
        return f"Client(shop_id={self.shop_id!r}, base_url={self.base_url!r})"

    async def __aenter__(self) -> Client:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (and its transport, unless it came from `with_options`).

        Calling it again does nothing.
        """
        api = self._requester
        if api.closed:
            return
        api.closed = True
        if api.root is not api:
            return  # the transport belongs to the client this one was derived from
        try:
            await self._transport.aclose()
        except RuntimeError:
            api.closed = False  # closed from the wrong event loop: the right one still can
            raise

    @property
    def timeout(self) -> float | None:
        """Seconds each attempt may take (None: no limit), as given at construction."""
        return self._requester.timeout

    @property
    def closed(self) -> bool:
        return self._requester.closed or self._requester.root.closed

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this Client is closed; create a new one")


class ClientWithRawResponse:
    """`client.with_raw_response`: `request()` returning a `RawResponse`."""

    __slots__ = ("_api",)

    def __init__(self, requester: Requester) -> None:
        self._api = requester

    async def request(
        self, method: str, path: str, *, json: Any = None, cast: Any = None
    ) -> RawResponse[Any]:
        """`Client.request`, its 2xx answer kept raw; `parse()` decodes it as `cast` says."""
        decode = decoder_for(cast)
        method, path, body = _generic(method, path, json)
        response = await self._api.send("request", method, path, body, route=None)
        return RawResponse(response, decode)


def _generic(method: str, path: str, json: Any) -> tuple[str, str, bytes]:
    """A generic call's method, path and body, checked before anything is sent."""
    if not isinstance(method, str) or not method.isalpha():
        raise ValueError(f"method must be an HTTP method like 'GET', got {method!r}")
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError("path must be relative to the base URL: a string starting with one '/'")
    if any(ch.isspace() or not ch.isprintable() or ch == "#" for ch in path):
        raise ValueError("path contains whitespace, control characters or '#'")
    return method.upper(), path, b"" if json is None else encode_json(json)
