"""What an error body says, read liberally: message, platform code, help link, field errors.

The platform answers errors in several shapes, all read here and nowhere else:
`{"message": ..., "errors": {...}}` (the API's documented 422), a gateway's
`{"response": {"message": ...}}`, and the back-office object `{"error": {"code",
"message", "friendly_message", "help"}}`. What cannot be read is left out,
never raised: the raw body stays on the error for whoever needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

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


@attrs.frozen
class ErrorBody:
    """The readable parts of an error body; None (or `{}`) where the body says nothing."""

    message: str | None = None
    code: str | None = None
    help_url: str | None = None
    errors: dict[str, list[str]] = attrs.field(factory=dict)
    is_json_object: bool = False


def read_error_body(body: bytes, *, field_errors_wanted: bool = False) -> ErrorBody:
    """The `ErrorBody` of `body`; `errors` is read only when asked (a 422)."""
    data = _json_object(body)
    if data is None:
        return ErrorBody()
    error = data.get("error")
    platform: Mapping[str, Any] = error if isinstance(error, dict) else {}
    raw_errors = data.get("errors")
    errors = field_errors(raw_errors) if field_errors_wanted else {}
    message = (
        _string(data.get("message"))
        or _gateway_message(data)
        or _platform_message(platform)
        or (_string(error) if isinstance(error, str) else None)
        # Only a field map is the API's wording; free text in its place may echo a customer.
        or (_joined(errors) if isinstance(raw_errors, dict) else None)
    )
    return ErrorBody(
        message=shorten(message) if message else None,
        code=_short(platform.get("code"), 100),
        help_url=_short(platform.get("help"), 500),
        errors=errors,
        is_json_object=True,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _short(value: Any, limit: int) -> str | None:
    text = _string(value)
    return shorten(text, limit) if text is not None else None


def _gateway_message(data: Mapping[str, Any]) -> str | None:
    nested = data.get("response")
    return _string(nested.get("message")) if isinstance(nested, dict) else None


def _platform_message(error: Mapping[str, Any]) -> str | None:
    """`"Unauthorized: You can't have access to this area"`: the message, then the friendly one."""
    parts = [_string(error.get("message")), _string(error.get("friendly_message"))]
    readable = [part for part in parts if part is not None]
    if len(readable) == 2 and readable[0] == readable[1]:
        readable.pop()
    return ": ".join(readable) or None


def field_errors(value: Any, prefix: str = "") -> dict[str, list[str]]:
    """A 422's `errors`, read liberally into `{field: [message, ...]}`.

    The doc's shape passes through; a lone string is a one-item list; numbers
    are their text; a nested map names its fields `parent.child` ("plan.base");
    a list or a string in place of the whole map (Rails' `full_messages`) goes
    under `base`. Anything else (null, booleans, objects inside a list) is left out.
    """
    if not prefix and isinstance(value, list | str):
        value = {"base": value}
    if not isinstance(value, dict):
        return {}
    out: dict[str, list[str]] = {}
    for name, messages in value.items():
        field = f"{prefix}{name}"
        if isinstance(messages, dict):
            for nested, texts in field_errors(messages, f"{field}.").items():
                out.setdefault(nested, []).extend(texts)
            continue
        items = messages if isinstance(messages, list) else [messages]
        readable = [text for text in map(_text, items) if text is not None]
        if readable:
            out.setdefault(field, []).extend(readable)
    return out


def _text(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, int | float) and not isinstance(item, bool):
        return str(item)
    return None


def _joined(errors: Mapping[str, list[str]]) -> str | None:
    """Rails' full messages: "email is invalid; ip can't be blank" (`base` has no field)."""
    parts = [
        message if field == "base" else f"{field} {message}"
        for field, messages in errors.items()
        for message in messages
    ]
    return "; ".join(parts) or None
