"""OpenTelemetry tracing: one span per SDK call, one child span per attempt.

`Client(..., middleware=[OpenTelemetryMiddleware()])`. Needs `opentelemetry-api`
only (`pip install 'ecomcharge-async[otel]'`); the app's SDK and exporter decide
where spans go. Spans hold the HTTP method, the route template
(`/customers/{customer_id}`, never the id), the final status, the attempt count,
the error type and the request id: never a header, a body or a customer field.
"""

from __future__ import annotations

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
except ModuleNotFoundError as _missing:  # pragma: no cover - the extra is not installed
    raise ModuleNotFoundError(
        "ecomcharge_async.otel needs opentelemetry-api: pip install 'ecomcharge-async[otel]'",
        name=_missing.name,
    ) from _missing

from ._core.errors import APIError
from ._core.http import Request, Response
from ._core.logs import request_id
from ._core.middleware import Handler, Middleware
from ._version import __version__

__all__ = ["OpenTelemetryMiddleware"]

#: The span attribute holding how many attempts a call took.
ATTEMPTS = "ecomcharge.attempts"
#: The attempt span's attribute holding its number (1 = the first try).
ATTEMPT = "ecomcharge.attempt"
REQUEST_ID = "ecomcharge.request_id"


def _error_type(exc: BaseException) -> str:
    return type(exc).__name__


class OpenTelemetryMiddleware:
    """A per-call middleware that traces each call and its attempts.

    The call's span (`ecomcharge customers.create`, named by the request's
    `operation`) covers the retries and their waits; each attempt is a child
    span (`ecomcharge attempt`) with its number, status or error type, made by
    the companion this middleware offers as `attempt_middleware` (the client
    links it inside the retries). `tracer_provider` defaults to the global one.
    A streamed list's span ends when the answer's headers arrive.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer(
            "ecomcharge_async", __version__, tracer_provider=tracer_provider
        )
        #: The per-attempt companion: the client runs it around each attempt.
        self.attempt_middleware: Middleware = _AttemptSpans(self._tracer)

    async def __call__(self, request: Request, call_next: Handler, /) -> Response:
        attributes: dict[str, str] = {"http.request.method": request.method.upper()}
        if request.route is not None:
            attributes["url.template"] = request.route
        with self._tracer.start_as_current_span(
            f"ecomcharge {request.operation}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await call_next(request)
            except BaseException as exc:
                span.set_attribute(ATTEMPTS, getattr(exc, "attempts", 1))
                _set_failure(span, exc)
                raise
            span.set_attribute(ATTEMPTS, response.attempts)
            _set_answer(span, response)
            return response


class _AttemptSpans:
    """One child span per attempt, numbered by `Request.attempt`."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    async def __call__(self, request: Request, call_next: Handler, /) -> Response:
        with self._tracer.start_as_current_span(
            "ecomcharge attempt",
            kind=SpanKind.INTERNAL,
            attributes={ATTEMPT: request.attempt},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await call_next(request)
            except BaseException as exc:
                _set_failure(span, exc)
                raise
            _set_answer(span, response)
            return response


def _set_answer(span: Span, response: Response) -> None:
    span.set_attribute("http.response.status_code", response.status)
    rid = request_id(response)
    if rid is not None:
        span.set_attribute(REQUEST_ID, rid)
    if response.status >= 400:
        span.set_attribute("error.type", str(response.status))
        span.set_status(Status(StatusCode.ERROR))


def _set_failure(span: Span, exc: BaseException) -> None:
    if isinstance(exc, APIError):
        span.set_attribute("http.response.status_code", exc.status)
    rid = request_id(exc)
    if rid is not None:
        span.set_attribute(REQUEST_ID, rid)
    span.set_attribute("error.type", _error_type(exc))
    # The type only: an error's message might one day quote what the API sent back.
    span.set_status(Status(StatusCode.ERROR, _error_type(exc)))
