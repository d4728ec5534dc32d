"""The headers every request of a client carries: credentials, User-Agent, the app's own."""

from __future__ import annotations

import platform
from collections.abc import Mapping

import aiohttp

from .._version import __version__

#: Headers the SDK owns: set through `headers=` they would break auth or framing.
FORBIDDEN = frozenset({"authorization", "content-type", "content-length", "host"})


def user_agent(app: str | None = None) -> str:
    """`ecomcharge-async/<version> [<app>] Python/x.y aiohttp/x.y`."""
    if app is not None:
        check_value("user_agent", app)
    python = ".".join(platform.python_version_tuple()[:2])
    aio = ".".join(aiohttp.__version__.split(".")[:2])
    own = f"ecomcharge-async/{__version__}"
    return " ".join(part for part in (own, app, f"Python/{python}", f"aiohttp/{aio}") if part)


def check_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if any(not ch.isprintable() for ch in value):
        # Never echo the value: a header may carry a token.
        raise ValueError(f"{name} contains control or non-printable characters")
    return value


def extra_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The app's own headers, checked: no SDK-owned names, no line breaks."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of str to str, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        check_value("a header name", name)
        if not name or any(ch in name for ch in " :"):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in FORBIDDEN:
            raise ValueError(f"the {name} header is set by the client and cannot be changed")
        checked[name] = check_value(f"header {name}", value)
    return checked


def merged(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`base` with `extra` on top, names matched case-insensitively (the later wins)."""
    lowered = {name.lower() for name in extra}
    kept = {name: value for name, value in base.items() if name.lower() not in lowered}
    return {**kept, **extra}
