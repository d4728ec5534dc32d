"""The error hierarchy and the one function that maps a response to an error."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from ._http import Response

PREVIEW_CHARS = 200


def shorten(text: str, limit: int = PREVIEW_CHARS) -> str:
    """`text` on one printable line of at most `limit` characters.

    Server-sent text ends up in messages and logs: newlines and control
    characters could forge log lines or terminal escapes, so they are replaced.
    """
    text = " ".join(text[: limit * 4].split())
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def preview(body: bytes, limit: int = PREVIEW_CHARS) -> str:
    """A short, printable excerpt of a body for error messages."""
    return shorten(body[: limit * 4].decode("utf-8", errors="replace"), limit)


class EcomChargeError(Exception):
    """Base class of every error this SDK raises on purpose.

    `attempts` is how many attempts the retry middleware made before giving up
    (1 when the call was not retried).
    """

    attempts: int = 1


class APIError(EcomChargeError):
    """The API answered with a non-2xx status."""

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
        super().__init__(f"{status}: {message}")


class ValidationError(APIError):
    """422: the API rejected the parameters; `errors` is the per-field map as sent."""

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, message, body, headers)
        self.errors: dict[str, Any] = errors if errors is not None else {}


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


class DecodeError(EcomChargeError):
    """A 2xx answer whose body is not the JSON shape the API documents."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b"") -> None:
        self.status = status
        self.preview: str = preview(body)
        where = f"{status} response" if status is not None else "response"
        detail = f"{where} did not decode: {message}"
        if body:
            detail += f"; body starts {self.preview!r}"
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

    Reads `message` (or the gateway's `response.message`) from a JSON body; a
    body that is not JSON (an HTML page from a proxy) still gives the right
    class, with a short preview as the message.
    """
    status = response.status
    data = _json_object(response.body)
    message = shorten(_message_of(data) or "")
    if not message:
        message = _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
        if response.body and data is None:
            message += f"; body starts {preview(response.body)!r}"
    args = (status, message, response.body, response.headers)
    if status == 422:
        errors = data.get("errors") if data is not None else None
        return ValidationError(*args, errors=errors if isinstance(errors, dict) else {})
    if status == 429:
        return RateLimitError(*args, retry_after=retry_after(response))
    if status >= 500:
        return ServerError(*args)
    return _CLASSES.get(status, APIError)(*args)
