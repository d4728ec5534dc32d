"""`Client`: configuration, chain assembly and lifecycle."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Sequence
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from ._aiohttp import AiohttpTransport
from ._customers import Customers
from ._errors import APITimeoutError, error_from_response
from ._http import Request, Response, StreamingTransport, Transport
from ._middleware import LoggingMiddleware, Middleware, check_middleware, link
from ._retry import DEFAULT_RETRY, NO_RETRIES, RetryMiddleware, RetryPolicy
from ._version import __version__

DEFAULT_BASE_URL = "https://api.ecomcharge.com"
DEFAULT_TIMEOUT = 30.0


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
    `timeout` bounds each attempt in seconds (None: no limit); `retry` says
    how failed attempts are retried (None: never). The client closes its
    transport on `aclose()`; an `AiohttpTransport` in turn closes only a
    session it created.

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
    ) -> None:
        shop = _check_credential(
            "shop_id", "ECOMCHARGE_SHOP_ID", _setting(shop_id, "ECOMCHARGE_SHOP_ID")
        )
        secret = _check_credential(
            "secret_key", "ECOMCHARGE_SECRET_KEY", _setting(secret_key, "ECOMCHARGE_SECRET_KEY")
        )
        if ":" in shop:
            raise ValueError("shop_id must not contain ':' (HTTP Basic auth forbids it)")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, got {timeout!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
        per_call = check_middleware("middleware", middleware)
        per_attempt = check_middleware("attempt_middleware", attempt_middleware)
        self.shop_id = shop
        self.base_url: str = check_base_url(
            _setting(base_url, "ECOMCHARGE_BASE_URL") or DEFAULT_BASE_URL
        )
        self._timeout = timeout
        self.retry = retry
        # The transport made here enforces `timeout` with aiohttp's own timer, which
        # aiohttp runs anyway: a second one per attempt would cost ~7 us of CPU a call.
        self._transport_bounds_attempts = transport is None
        self._transport: Transport = transport or AiohttpTransport(timeout=timeout)
        self._stream = (
            self._transport.stream if isinstance(self._transport, StreamingTransport) else None
        )
        auth = aiohttp.encode_basic_auth(shop, secret)
        common = {
            "Authorization": auth,
            "Accept": "application/json",
            "User-Agent": f"ecomcharge-async/{__version__}",
        }
        self._headers = common
        self._json_headers = {**common, "Content-Type": "application/json"}
        # With retry=None the retry layer still runs once, so errors look the same.
        retry_layer = RetryMiddleware(retry or NO_RETRIES)
        chain = (*per_call, retry_layer, *per_attempt, LoggingMiddleware())
        self._handler = link(chain, self._send_once)
        self._closed = False
        self.customers: Customers = Customers(self)

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
        """Close the client and its transport; calling it again does nothing."""
        if not self._closed:
            self._closed = True
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
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Client is closed; create a new one")

    async def send(
        self, method: str, path: str, body: bytes = b"", *, stream: bool = False
    ) -> Response:
        """Send one API request through the chain; return a 2xx response or raise.

        Non-2xx answers are raised by the retry layer (with `.attempts`); the
        check here covers a response made up by a per-call middleware.
        """
        self._check_open()
        request = Request(
            method=method,
            url=self.base_url + path,
            headers=self._json_headers if body else self._headers,
            body=body,
            stream=stream,
        )
        response = await self._handler(request)
        if not 200 <= response.status < 300:
            raise error_from_response(response)
        return response

    async def _send_once(self, request: Request) -> Response:
        """The innermost link: one attempt on the transport, bounded by `timeout`.

        A streamed body is bounded later, chunk by chunk, by its reader.
        """
        send = self._stream if request.stream and self._stream else self._transport.send
        if self.timeout is None or (self._transport_bounds_attempts and not request.stream):
            return await send(request)
        try:
            async with asyncio.timeout(self.timeout):
                return await send(request)
        except TimeoutError as exc:
            raise APITimeoutError(f"no answer within {self.timeout} s") from exc
