"""Turning the SDK's logs on: `ECOMCHARGE_LOG`, the CLI's `-v`, text or JSON lines.

Every record the SDK logs carries its facts as attributes too (`RECORD_FIELDS`), so a
JSON or logfmt formatter needs no parsing. None of them ever holds a secret, a
header or a customer's field value: paths, statuses, counts and ids only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from .errors import request_id_of
from .http import Response

#: The environment variable that turns the SDK's logging on in any program.
LOG_ENV = "ECOMCHARGE_LOG"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
#: Record attributes the formatters show (the SDK sets the ones that apply).
RECORD_FIELDS = (
    "operation",
    "method",
    "path",
    "status",
    "attempt",
    "elapsed_ms",
    "request_id",
    "wait_s",
    "error",
    "line",
    "rows",
)

logger = logging.getLogger("ecomcharge_async")


def request_id(outcome: object) -> str | None:
    """The `X-Request-Id` of a response or an API error, if the server sent one."""
    headers: Mapping[str, str] | None = None
    if isinstance(outcome, Response):
        headers = outcome.headers
    else:
        headers = getattr(outcome, "headers", None)
    return request_id_of(headers) if headers else None


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in RECORD_FIELDS if hasattr(record, name)}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...` (logfmt-style fields)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = " ".join(f"{name}={value}" for name, value in _fields(record).items())
        return f"{text} {pairs}" if pairs else text


def _handler(stream: TextIO, fmt: str) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("ecomcharge_async")
    return handler


def configure(level: int, *, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Log the SDK at `level` to `stream` (stderr), replacing an earlier `configure`."""
    for old in list(logger.handlers):
        if old.get_name() == "ecomcharge_async":
            logger.removeHandler(old)
    logger.addHandler(_handler(stream or sys.stderr, fmt))
    logger.setLevel(level)


def configure_from_env(environ: Mapping[str, str] = os.environ) -> int | None:
    """Apply `ECOMCHARGE_LOG=debug|info|warning` (and `ECOMCHARGE_LOG_FORMAT=json`).

    Called when the package is imported, so it works in any program, as
    `OPENAI_LOG` does; returns the level set, or None. An unknown value is ignored.
    """
    level = LEVELS.get(environ.get(LOG_ENV, "").strip().lower())
    if level is not None:
        fmt = environ.get("ECOMCHARGE_LOG_FORMAT", "text").strip().lower()
        configure(level, fmt=fmt)
    return level
