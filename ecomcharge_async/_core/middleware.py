"""How the middleware chain is linked (once, when the client is built); the logging middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, cast
from urllib.parse import urlsplit

from .http import Request, Response
from .logs import request_id

Handler = Callable[[Request], Awaitable[Response]]

logger = logging.getLogger("ecomcharge_async")
# A library adds no output of its own: the app's logging config decides (stdlib advice).
logger.addHandler(logging.NullHandler())

#: The attribute by which a per-call middleware offers a companion that the
#: client runs around each attempt (the OpenTelemetry middleware's attempt spans).
ATTEMPT_COMPANION = "attempt_middleware"


class Middleware(Protocol):
    """Anything with `async def __call__(request, call_next) -> Response`.

    (Typed as a call returning an awaitable, which every `async def` is, so
    that a layer may also hand back `call_next(request)` without a frame of its own.)
    A per-call middleware that also wants to see every attempt sets an
    `attempt_middleware` attribute: the client links that one inside the retries.
    """

    def __call__(self, request: Request, call_next: Handler, /) -> Awaitable[Response]: ...


def _bind(middleware: Middleware, call_next: Handler) -> Handler:
    # A plain function returning the middleware's awaitable: an `async def`
    # wrapper would add a coroutine, and a frame every resume passes through.
    def handler(request: Request) -> Awaitable[Response]:
        return middleware(request, call_next)

    return handler


def link(middleware: Sequence[Middleware], send: Handler) -> Handler:
    """One handler that runs `middleware` in order, the first outermost, then `send`."""
    handler = send
    for layer in reversed(middleware):
        handler = _bind(layer, handler)
    return handler


def companions(middleware: Sequence[Middleware]) -> tuple[Middleware, ...]:
    """The per-attempt companions the per-call `middleware` offer, in the same order."""
    found = (getattr(layer, ATTEMPT_COMPANION, None) for layer in middleware)
    return tuple(layer for layer in found if layer is not None)


def check_middleware(name: str, middleware: object) -> tuple[Middleware, ...]:
    """The middleware as a tuple, or a clear error for the usual mistakes."""
    if callable(middleware) or isinstance(middleware, str | bytes):
        raise TypeError(f"{name} must be a sequence of middleware, got a single {middleware!r}")
    if not isinstance(middleware, Iterable):
        raise TypeError(f"{name} must be a sequence of middleware, got {middleware!r}")
    layers = tuple(cast("Iterable[Middleware]", middleware))
    for layer in layers:
        if not callable(layer):
            raise TypeError(
                f"{name} entries must be callables (request, call_next) -> Response, got {layer!r}"
            )
    return layers


def url_path(url: str) -> str:
    """The path of `url` for logs: no scheme, host, query or fragment."""
    return urlsplit(url).path or "/"


class LoggingMiddleware:
    """Logs every attempt at DEBUG: operation, method, path, status (or error), attempt, duration.

    Only the method and the URL path are logged: never headers (Authorization)
    nor bodies (customer e-mail, phone, address), never the query string. When
    DEBUG is off for the `ecomcharge_async` logger it costs one level check and
    hands the request straight on, adding no frame to the await chain.
    """

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log

    def __call__(self, request: Request, call_next: Handler, /) -> Awaitable[Response]:
        if not self._log.isEnabledFor(logging.DEBUG):
            return call_next(request)
        return self._logged(request, call_next)

    async def _logged(self, request: Request, call_next: Handler) -> Response:
        path = url_path(request.url)
        attempt = request.attempt
        fields = {
            "operation": request.operation,
            "method": request.method,
            "path": path,
            "attempt": attempt,
        }
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:
            took = (time.perf_counter() - started) * 1000.0
            self._log.debug(
                "%s %s attempt %d failed after %.1f ms: %s",
                request.method,
                path,
                attempt,
                took,
                type(exc).__name__,
                extra={
                    **fields,
                    "status": None,
                    "elapsed_ms": round(took, 1),
                    "error": type(exc).__name__,
                },
            )
            raise
        took = (time.perf_counter() - started) * 1000.0
        self._log.debug(
            "%s %s -> %d (attempt %d, %.1f ms)",
            request.method,
            path,
            response.status,
            attempt,
            took,
            extra={
                **fields,
                "status": response.status,
                "elapsed_ms": round(took, 1),
                "request_id": request_id(response),
            },
        )
        return response
