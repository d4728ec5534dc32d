"""The error hierarchy and the one function that maps a response to an error."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from .http import Response, find_header

PREVIEW_CHARS = 200
REQUEST_ID_HEADER = "X-Request-Id"


def shorten(text: str, limit: int = PREVIEW_CHARS) -> str:
    """`text` on one printable line of at most `limit` characters.

    Server-sent text ends up in messages and logs: newlines and control
    characters could forge log lines or terminal escapes, so they are replaced.
    """
    text = " ".join(text[: limit * 4].split())
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EcomChargeError(Exception):
    """Base class of every error this SDK raises on purpose.

    `attempts` is how many attempts the retry middleware made before giving up
    (1 when the call was not retried).
    """

    attempts: int = 1


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The `X-Request-Id` a response carries (any case), shortened to one safe line."""
    value = find_header(headers, REQUEST_ID_HEADER)
    return shorten(value, 100) if value else None


class APIError(EcomChargeError):
    """The API answered with a non-2xx status.

    `request_id` is the response's `X-Request-Id` (None without one): quote it
    in a support ticket. It is in the message too. `body` is the body as sent,
    kept off the message since it may hold customer data.
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id: str | None = request_id_of(self.headers)
        detail = f"{status}: {message}"
        if self.request_id is not None:
            detail += f" (request id {self.request_id})"
        super().__init__(detail)


class ValidationError(APIError):
    """422: the API rejected the parameters.

    `errors` maps each field to its messages, always `dict[str, list[str]]`
    whatever the server sent: a lone string becomes a one-item list, nested
    fields are named `parent.child`, and a missing or unreadable map is `{}`
    (the body as sent stays on `body`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(status, message, body, headers)
        self.errors: dict[str, list[str]] = dict(errors) if errors is not None else {}


class AuthenticationError(APIError):
    """401: wrong shop id or secret key."""


class NotFoundError(APIError):
    """404: no such customer (or no such endpoint)."""


class RateLimitError(APIError):
    """429: too many requests; `retry_after` is the server's hint in seconds."""

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, message, body, headers)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the API or a proxy in front of it failed."""


class APIConnectionError(EcomChargeError):
    """No answer was received; the request may have reached the server."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout; the request may have reached the server."""


class ConnectError(APIConnectionError):
    """The request surely never left (refused, DNS, TLS handshake): safe to retry."""


class PoolTimeoutError(ConnectError):
    """No free connection in the pool in time: the request was not sent (safe to retry)."""


class DecodeError(EcomChargeError):
    """A 2xx answer whose body cannot be read as what the API documents.

    The message says where (item index, field, byte offset) and what (the JSON
    type found), never the body's text, which holds customer data; the body
    (for a streamed one, its first bytes) is on `body` for whoever chooses to
    log it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: bytes = b"",
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.request_id: str | None = request_id
        where = f"{status} response" if status is not None else "response"
        detail = f"{where} did not decode: {message}"
        if request_id is not None:
            detail += f" (request id {request_id})"
        super().__init__(detail)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date).

    None when absent or unparseable; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def retry_after(response: Response, *, now: float | None = None) -> float | None:
    """The server's requested wait in seconds, or None when it asks for none we can read.

    `retry-after-ms` (milliseconds, sent by some gateways and read by
    openai-python and azure-core) wins over the standard `Retry-After`.
    """
    millis = response.header("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            pass
        else:
            if value >= 0 and value != float("inf"):
                return value / 1000.0
    return parse_retry_after(response.header("Retry-After"), now=now)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _message_of(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    message = data.get("message")
    if isinstance(message, str) and message:
        return message
    nested = data.get("response")
    if isinstance(nested, dict):
        message = nested.get("message")
        if isinstance(message, str) and message:
            return message
    return None


def field_errors(value: Any, prefix: str = "") -> dict[str, list[str]]:
    """A 422's `errors`, read liberally into `{field: [message, ...]}`.

    The doc's shape passes through; a string is a one-item list; numbers are
    their text; a nested map names its fields `parent.child`; anything else
    (null, booleans, objects inside a list) is left out.
    """
    if not isinstance(value, dict):
        return {}
    out: dict[str, list[str]] = {}
    for name, messages in value.items():
        field = f"{prefix}{name}"
        if isinstance(messages, dict):
            out.update(field_errors(messages, f"{field}."))
            continue
        items = messages if isinstance(messages, list) else [messages]
        texts = [_text(item) for item in items]
        readable = [text for text in texts if text is not None]
        if readable:
            out[field] = readable
    return out


def _text(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, int | float) and not isinstance(item, bool):
        return str(item)
    return None


def _joined(errors: Mapping[str, list[str]]) -> str:
    """Rails' full messages: "email is invalid; ip can't be blank" (`base` has no field)."""
    parts = []
    for field, messages in errors.items():
        for message in messages:
            parts.append(message if field == "base" else f"{field} {message}")
    return "; ".join(parts)


def _body_kind(response: Response) -> str:
    """What a body that is not a JSON object is, without quoting it."""
    kind = (response.header("Content-Type") or "").partition(";")[0].strip()
    what = f"{shorten(kind, 60)} body" if kind else "a body"
    return f"{what} of {len(response.body)} bytes, not a JSON object"


_DEFAULT_MESSAGES = {
    401: "authentication failed",
    404: "not found",
    422: "invalid parameters",
    429: "rate limited",
}

_CLASSES: dict[int, type[APIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
}


def error_from_response(response: Response) -> APIError:
    """Map a non-2xx `Response` to the matching `APIError` subclass.

    Reads `message` (or the gateway's `response.message`) from a JSON body,
    else for a 422 the joined field errors. A body that is not JSON (an HTML
    page from a proxy) still gives the right class; the message then names its
    type and size, never its text.
    """
    status = response.status
    data = _json_object(response.body)
    errors = field_errors(data.get("errors")) if status == 422 and data is not None else {}
    message = shorten(_message_of(data) or _joined(errors))
    if not message:
        message = _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
        if response.body and data is None:
            message += f" ({_body_kind(response)})"
    args = (status, message, response.body, response.headers)
    if status == 422:
        return ValidationError(*args, errors=errors)
    if status == 429:
        return RateLimitError(*args, retry_after=retry_after(response))
    if status >= 500:
        return ServerError(*args)
    return _CLASSES.get(status, APIError)(*args)
