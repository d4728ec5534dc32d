"""What a client is configured with: credentials, the base URL, the Basic auth header.

Each is checked when the client is built, so a misconfigured client fails at
once with a message that never echoes a secret.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from urllib.parse import urlsplit


def basic_auth(shop_id: str, secret_key: str) -> str:
    """The `Authorization` value of HTTP Basic auth (RFC 7617, UTF-8 credentials)."""
    return "Basic " + base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode("ascii")


def setting(value: str | None, env: str) -> str | None:
    return value if value is not None else os.environ.get(env)


def check_credential(name: str, env: str, value: str | None) -> str:
    if not value:
        raise ValueError(f"missing {name}: pass {name}= or set the {env} environment variable")
    if any(not ch.isprintable() for ch in value):
        # Never echo the value: it may be the secret key.
        raise ValueError(f"{name} contains control or non-printable characters")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """Refuse a base URL that would send credentials in clear text or nowhere.

    Messages quote only the scheme, host and path: a URL that wrongly carries a
    password or a token in its query must not be echoed into logs.
    """
    parts = urlsplit(base_url)
    if "@" in parts.netloc:
        raise ValueError("base_url must not contain credentials (user:password@)")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not have a query or fragment")
    shown = repr(f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {shown}")
    try:
        parts.port  # noqa: B018 (reading it validates it)
    except ValueError:
        raise ValueError(f"base_url has an invalid port, got {shown}") from None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http:// to {parts.hostname}: credentials would travel "
            "unencrypted; use https:// (http is allowed only for loopback hosts)"
        )
    return base_url.rstrip("/")
