"""`Client`: configuration, chain assembly and lifecycle."""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from .._transports.aiohttp_transport import AiohttpTransport
from .attempt import Attempt
from .customers import Customers
from .durations import seconds
from .headers import extra_headers, merged
from .headers import user_agent as build_user_agent
from .http import Response, Transport
from .middleware import LoggingMiddleware, Middleware, check_middleware, link
from .policy import DEFAULT_RETRY, NO_RETRIES, RetryPolicy
from .requester import Requester
from .retry import RetryMiddleware

DEFAULT_BASE_URL = "https://api.ecomcharge.com"
DEFAULT_TIMEOUT = 30.0


class _Omitted(enum.Enum):
    OMITTED = "omitted"


OMITTED = _Omitted.OMITTED


def _check_retry(retry: RetryPolicy | None) -> RetryPolicy | None:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
    return retry


def _setting(value: str | None, env: str) -> str | None:
    return value if value is not None else os.environ.get(env)


def _check_credential(name: str, env: str, value: str | None) -> str:
    if not value:
        raise ValueError(f"missing {name}: pass {name}= or set the {env} environment variable")
    if any(not ch.isprintable() for ch in value):
        # Never echo the value: it may be the secret key.
        raise ValueError(f"{name} contains control or non-printable characters")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """Refuse a base URL that would send credentials in clear text or nowhere.

    Messages quote only the scheme, host and path: a URL that wrongly carries a
    password or a token in its query must not be echoed into logs.
    """
    parts = urlsplit(base_url)
    if "@" in parts.netloc:
        raise ValueError("base_url must not contain credentials (user:password@)")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not have a query or fragment")
    shown = repr(f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {shown}")
    try:
        parts.port  # noqa: B018 (reading it validates it)
    except ValueError:
        raise ValueError(f"base_url has an invalid port, got {shown}") from None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http:// to {parts.hostname}: credentials would travel "
            "unencrypted; use https:// (http is allowed only for loopback hosts)"
        )
    return base_url.rstrip("/")


class Client:
    """The eComCharge API client. Share one for the life of your app.

    Credentials and base URL default to the `ECOMCHARGE_SHOP_ID`,
    `ECOMCHARGE_SECRET_KEY` and `ECOMCHARGE_BASE_URL` environment variables.
    `timeout` bounds each attempt in seconds, counted once the request has a
    connection (None: no limit); `retry` says how failed attempts are retried
    (None: never). `headers` go with every request; `user_agent` names your app
    in the User-Agent. The client closes its transport on `aclose()`; an
    `AiohttpTransport` in turn closes only a session it created.
    `with_options()` derives a client for some calls that shares all of this.

    The chain, linked once here, outermost first: `middleware` (once per call:
    sees the request once and the final outcome, a 2xx `Response` or the error
    about to be raised), retry, `attempt_middleware` (once per attempt: sees
    every response of every attempt, any status), logging, then the transport.
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
        shop = _check_credential(
            "shop_id", "ECOMCHARGE_SHOP_ID", _setting(shop_id, "ECOMCHARGE_SHOP_ID")
        )
        secret = _check_credential(
            "secret_key", "ECOMCHARGE_SECRET_KEY", _setting(secret_key, "ECOMCHARGE_SECRET_KEY")
        )
        if ":" in shop:
            raise ValueError("shop_id must not contain ':' (HTTP Basic auth forbids it)")
        self._timeout = seconds("timeout", timeout, none_ok=True)
        self.retry: RetryPolicy | None = _check_retry(retry)
        per_call = check_middleware("middleware", middleware)
        per_attempt = check_middleware("attempt_middleware", attempt_middleware)
        common = {
            "Authorization": aiohttp.encode_basic_auth(shop, secret),
            "Accept": "application/json",
            "User-Agent": build_user_agent(user_agent),
        }
        self._headers = merged(common, extra_headers(headers))
        self.shop_id = shop
        self.base_url: str = check_base_url(
            _setting(base_url, "ECOMCHARGE_BASE_URL") or DEFAULT_BASE_URL
        )
        # The transport made here bounds each attempt by the request's timeout with
        # aiohttp's own timer (no second timer per call), once it has a connection.
        self._transport: Transport = transport or AiohttpTransport(timeout=None)
        self._attempt = Attempt(self._transport)
        # With retry=None the retry layer still runs once, so errors look the same. Each
        # request carries its call's policy; this one serves a request a middleware
        # built anew (use attrs.evolve to keep a call's options).
        retry_layer = RetryMiddleware(self.retry or NO_RETRIES)
        chain = (*per_call, retry_layer, *per_attempt, LoggingMiddleware())
        self._handler = link(chain, self._attempt)
        self._unchecked = bool(per_call)
        self._root = self
        self._closed = False
        self._start()

    def _start(self) -> None:
        self._requester = Requester(
            base_url=self.base_url,
            headers=self._headers,
            handler=self._handler,
            timeout=self._timeout,
            retry=self.retry or NO_RETRIES,
            check_open=self._check_open,
            unchecked=self._unchecked,
        )
        self.customers: Customers = Customers(self._requester)

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
        derived = object.__new__(Client)
        derived.__dict__.update(self.__dict__)
        if timeout is not OMITTED:
            derived._timeout = seconds("timeout", timeout, none_ok=True)
        if retry is not OMITTED:
            derived.retry = _check_retry(retry)
        if headers is not None:
            derived._headers = merged(self._headers, extra_headers(headers))
        derived._closed = False
        derived._start()
        return derived

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
        if self._closed:
            return
        self._closed = True
        if self._root is not self:
            return  # the transport belongs to the client this one was derived from
        try:
            await self._transport.aclose()
        except RuntimeError:
            self._closed = False  # closed from the wrong event loop: the right one still can
            raise

    @property
    def timeout(self) -> float | None:
        """Seconds each attempt may take (None: no limit), as given at construction."""
        return self._timeout

    @property
    def closed(self) -> bool:
        return self._closed or self._root._closed

    def _check_open(self) -> None:
        if self._closed or self._root._closed:
            raise RuntimeError("this Client is closed; create a new one")

    async def send(
        self, method: str, path: str, body: bytes = b"", *, stream: bool = False
    ) -> Response:
        """Send one API request through the chain; return a 2xx response or raise."""
        return await self._requester.respond(method, path, body, stream=stream)
