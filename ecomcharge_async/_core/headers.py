"""The headers every request of a client carries: credentials, User-Agent, the app's own.

The app's own headers are checked once, when the client is built, so that a
request the SDK cannot stand behind is never sent: a header that frames,
routes or authenticates the request is the SDK's (or the transport's) to set,
a name must be an RFC 9110 token, a value printable ASCII on one line.
"""

from __future__ import annotations

import platform
import string
from collections.abc import Mapping

from .._version import __version__

_SET_BY_SDK = "is set by the SDK from its own options"
#: Headers that frame, route or authenticate a request: never taken from `headers=`.
OWNED = {
    "authorization": "carries the credentials: pass shop_id= and secret_key=",
    "proxy-authorization": (
        "authenticates to a proxy: put the user and password in the transport's "
        "proxy=http://user:password@host:port"
    ),
    "host": "routes the request: set base_url=",
    "content-length": f"frames the body and {_SET_BY_SDK}",
    "content-type": f"says how the body is encoded and {_SET_BY_SDK}",
    "content-encoding": "would label the plain JSON body as compressed",
    "transfer-encoding": "frames the body and is the HTTP library's to set",
    "connection": "manages the connection and is the HTTP library's to set",
    "keep-alive": "manages the connection and is the HTTP library's to set",
    "upgrade": "would switch protocols on the connection",
    "te": "negotiates transfer codings and is the HTTP library's to set",
    "trailer": "announces trailer fields the SDK never sends",
    "expect": "would hold the body back waiting for the server's 100 Continue",
}
#: RFC 9110 section 5.6.2: a field name is a token of these characters.
TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


def user_agent(app: str | None = None, transport: str | None = None) -> str:
    """`ecomcharge-async/<version> [<app>] Python/x.y [<transport>]`.

    `transport` is the product token of the HTTP library that really sends
    (`aiohttp/3.14.0`): a transport's `user_agent` class attribute, if it has one.
    """
    if app is not None:
        check_value("user_agent", app)
    if transport is not None:
        check_value("the transport's user_agent", transport)
    python = ".".join(platform.python_version_tuple()[:2])
    own = f"ecomcharge-async/{__version__}"
    return " ".join(part for part in (own, app, f"Python/{python}", transport) if part)


def check_value(name: str, value: object) -> str:
    """`value` if it is printable ASCII on one line; the message never quotes it (a token?)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    for position, ch in enumerate(value, 1):
        if " " <= ch <= "~":
            continue
        if ch in "\r\n":
            what = "a line break (CR or LF), which would end the header"
        elif ch.isascii():
            what = "a control character"
        else:
            what = "a non-ASCII character (encode it, e.g. percent-encoding)"
        raise ValueError(f"{name} contains {what} at position {position}; not sent")
    return value


def check_name(name: object) -> str:
    """`name` if it is an RFC 9110 token (the message shows the character that is not)."""
    if not isinstance(name, str):
        raise TypeError(f"a header name must be a string, got {type(name).__name__}")
    if not name:
        raise ValueError("a header name must not be empty")
    for ch in name:
        if ch not in TOKEN_CHARS:
            shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
            raise ValueError(
                f"header name {_shown(name)} is not an HTTP token: {shown} is not allowed "
                "(RFC 9110: letters, digits and !#$%&'*+-.^_`|~)"
            )
    return name


def _shown(name: str) -> str:
    """A header name fit for a message: printable, short."""
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in name[:60])
    return repr(text + ("..." if len(name) > 60 else ""))


def extra_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The app's own headers, checked: no SDK-owned names, tokens, one-line ASCII values."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of str to str, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    spelled: dict[str, str] = {}  # lower-case name -> the caller's spelling
    for name, value in headers.items():
        lowered = check_name(name).lower()
        why = OWNED.get(lowered)
        if why is not None:
            raise ValueError(f"headers= cannot set {name}: it {why}")
        if lowered in spelled:
            # Both would go out, and the server would read one header with two values.
            raise ValueError(f"headers= names {spelled[lowered]} twice (also as {name})")
        spelled[lowered] = name
        checked[name] = check_value(f"header {name}", value)
    return checked


def merged(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`base` with `extra` on top, names matched case-insensitively (the later wins)."""
    lowered = {name.lower() for name in extra}
    kept = {name: value for name, value in base.items() if name.lower() not in lowered}
    return {**kept, **extra}
