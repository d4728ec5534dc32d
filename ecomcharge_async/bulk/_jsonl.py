"""One JSON Lines line as a row: a customer, or why the line cannot be one."""

from __future__ import annotations

import json

from .._core.models import FIELDS, NewCustomer
from .._serde.explain import json_type
from ._row import Make, R, RowError


def jsonl_row(line: int, text: str, make: Make[R]) -> R | RowError:
    try:
        data = json.loads(text)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return RowError(line, f"not valid JSON: {reason}")
    except RecursionError:
        return RowError(line, "not valid JSON: nested too deeply")
    if not isinstance(data, dict):
        return RowError(line, f"expected a JSON object, got {json_type(data)}")
    unknown = [key for key in data if key not in FIELDS]
    if unknown:
        return RowError(
            line,
            f"unknown field {', '.join(map(repr, unknown))}; the fields are {', '.join(FIELDS)}",
        )
    for key, value in data.items():
        if value is not None and not isinstance(value, str):
            return RowError(line, f"field {key!r} must be a string, got {json_type(value)}")
    return make(line, new_customer(data))


def new_customer(fields: dict[str, str | None]) -> NewCustomer:
    """A row's customer; a missing email or ip is sent as "" so the API answers with its 422."""
    return NewCustomer(
        email=fields.pop("email", None) or "", ip=fields.pop("ip", None) or "", **fields
    )
