"""The error hierarchy and the one function that maps a response to an error."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from .error_body import read_error_body, shorten
from .http import Response, find_header

REQUEST_ID_HEADER = "X-Request-Id"


class EcomChargeError(Exception):
    """Base class of every error this SDK raises on purpose.

    `attempts` is how many attempts the retry middleware made before giving up
    (1 when the call was not retried); `operation` is the call that failed
    (`"customers.create"`, `"request"` for `client.request()`), None when the
    error came before a request was made.
    """

    attempts: int = 1
    operation: str | None = None


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The `X-Request-Id` a response carries (any case), shortened to one safe line."""
    value = find_header(headers, REQUEST_ID_HEADER)
    return shorten(value, 100) if value else None


class APIError(EcomChargeError):
    """The API answered with a non-2xx status.

    `request_id` is the response's `X-Request-Id` (None without one): quote it
    in a support ticket. It is in the message too. `code` and `help_url` are
    the platform's `error.code` and `error.help` when the body has them
    (`"unauthorized"`, a page explaining it), else None. `body` is the body as
    sent, kept off the message since it may hold customer data.
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
        help_url: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id: str | None = request_id_of(self.headers)
        self.code = code
        self.help_url = help_url
        detail = f"{status}: {message}"
        if self.request_id is not None:
            detail += f" (request id {self.request_id})"
        super().__init__(detail)


class ValidationError(APIError):
    """422: the API rejected the parameters.

    `errors` maps each field to its messages, always `dict[str, list[str]]`
    whatever the server sent: a lone string becomes a one-item list, nested
    maps become dotted keys (`"customer.ip"`, `"plan.base"`), a list or a
    string sent as the whole `errors` goes under `"base"`, and a missing or
    unreadable map is `{}` (the body as sent stays on `body`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        code: str | None = None,
        help_url: str | None = None,
    ) -> None:
        super().__init__(status, message, body, headers, code=code, help_url=help_url)
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
        code: str | None = None,
        help_url: str | None = None,
    ) -> None:
        super().__init__(status, message, body, headers, code=code, help_url=help_url)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the API or a proxy in front of it failed."""


class APIConnectionError(EcomChargeError):
    """No answer was received; the request may have reached the server."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout; the request may have reached the server."""


def stream_stalled(seconds: float | None) -> APITimeoutError:
    """A streamed body that sent nothing for `seconds`: the client's bound or the library's."""
    within = "in time" if seconds is None else f"for {seconds:g} s"
    return APITimeoutError(f"no data {within} while streaming")


class ConnectError(APIConnectionError):
    """The request surely never left (refused, DNS, TLS handshake): safe to retry."""


class PoolTimeoutError(ConnectError):
    """No free connection in the pool in time: the request was not sent (safe to retry)."""


class ProxyError(ConnectError):
    """The HTTP proxy refused the request or could not be reached: the API never saw it.

    A 407 from the proxy, a refused or unreachable proxy, a tunnel (CONNECT,
    for an `https://` API) the proxy refused or never answered. The message
    names the proxy's `host:port`, never its password, and what to check.
    """


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


def checked(response: Response) -> Response:
    """`response` if it is a 2xx; else the error it maps to, raised with its `attempts`."""
    if 200 <= response.status < 300:
        return response
    error = error_from_response(response)
    error.attempts = response.attempts
    raise error


def error_from_response(response: Response) -> APIError:
    """Map a non-2xx `Response` to the matching `APIError` subclass.

    The message is the body's `message` (or a gateway's `response.message`),
    else the platform's `error.message` and `error.friendly_message`, else for
    a 422 the joined field errors (see `error_body`). A body that is not JSON
    (an HTML page from a proxy) still gives the right class; the message then
    names its type and size, never its text.
    """
    status = response.status
    read = read_error_body(response.body, field_errors_wanted=status == 422)
    message = read.message
    if not message:
        message = _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
        if read.errors:
            message += " (see .errors)"
        elif response.body and not read.is_json_object:
            message += f" ({_body_kind(response)})"
    args = (status, message, response.body, response.headers)
    code, help_url = read.code, read.help_url
    if status == 422:
        return ValidationError(*args, errors=read.errors, code=code, help_url=help_url)
    if status == 429:
        wait = retry_after(response)
        return RateLimitError(*args, retry_after=wait, code=code, help_url=help_url)
    if status >= 500:
        return ServerError(*args, code=code, help_url=help_url)
    return _CLASSES.get(status, APIError)(*args, code=code, help_url=help_url)
