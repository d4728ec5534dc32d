"""How the middleware chain is linked (once, when the client is built); the logging middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Protocol, cast
from urllib.parse import urlsplit

from .http import Request, Response
from .logs import request_id

Handler = Callable[[Request], Awaitable[Response]]

logger = logging.getLogger("ecomcharge_async")
# A library adds no output of its own: the app's logging config decides (stdlib advice).
logger.addHandler(logging.NullHandler())

#: The attempt number of the request now in flight (1 = the first try). The retry
#: middleware sets it around each attempt so that inner layers can report it.
current_attempt: ContextVar[int] = ContextVar("ecomcharge_async_attempt", default=1)


class Middleware(Protocol):
    """Anything with `async def __call__(request, call_next) -> Response`.

    (Typed as a call returning an awaitable, which every `async def` is, so
    that a layer may also hand back `call_next(request)` without a frame of its own.)
    """

    def __call__(self, request: Request, call_next: Handler, /) -> Awaitable[Response]: ...


#: A per-call middleware that needs to see every attempt of its call (the
#: OpenTelemetry one) sets this for the duration of the call: the innermost layer
#: then runs it around each attempt, inside the retries. Unset, it costs one lookup.
attempt_observer: ContextVar[Middleware | None] = ContextVar(
    "ecomcharge_async_attempt_observer", default=None
)


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
    """Logs every attempt at DEBUG: method, path, status (or error class), attempt, duration.

    Only the method and the URL path are logged: never headers (Authorization)
    nor bodies (customer e-mail, phone, address), never the query string. When
    DEBUG is off for the `ecomcharge_async` logger it costs one level check and
    hands the request straight on, adding no frame to the await chain.
    """

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log

    def __call__(self, request: Request, call_next: Handler, /) -> Awaitable[Response]:
        observer = attempt_observer.get()
        if observer is not None:
            return observer(request, partial(self._log_or_pass, call_next=call_next))
        return self._log_or_pass(request, call_next)

    def _log_or_pass(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        if not self._log.isEnabledFor(logging.DEBUG):
            return call_next(request)
        return self._logged(request, call_next)

    async def _logged(self, request: Request, call_next: Handler) -> Response:
        path = url_path(request.url)
        attempt = current_attempt.get()
        started = time.perf_counter()
        fields = {"method": request.method, "path": path, "attempt": attempt}
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
                extra=_with_old_names(
                    {**fields, "status": None, "elapsed_ms": round(took, 1)},
                    error=type(exc).__name__,
                ),
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
            extra=_with_old_names(
                {**fields, "status": response.status, "elapsed_ms": round(took, 1)},
                request_id=request_id(response),
            ),
        )
        return response


def _with_old_names(fields: dict[str, object], **more: object) -> dict[str, object]:
    """The record's fields, also under the names of 0.1 (`http_method`, `duration_ms`...)."""
    return {
        **fields,
        **more,
        "http_method": fields["method"],
        "http_path": fields["path"],
        "http_status": fields["status"],
        "duration_ms": fields["elapsed_ms"],
    }
