"""Async-first Python SDK for the eComCharge Customers API."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._logs import configure_from_env as _configure_from_env
from ._version import __version__

# ECOMCHARGE_LOG=debug|info turns the SDK's logs on in any program that imports it.
_configure_from_env()

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport
    from ._client import Client
    from ._customers import Customers
    from ._errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        ConnectError,
        DecodeError,
        EcomChargeError,
        NotFoundError,
        PoolTimeoutError,
        RateLimitError,
        ServerError,
        ValidationError,
    )
    from ._http import Request, Response, StreamingTransport, Transport
    from ._httpx import HttpxTransport as HttpxTransport
    from ._middleware import Handler, Middleware
    from ._models import Customer, NewCustomer
    from ._policy import RetryPolicy
    from ._requester import RawResponse
    from ._serde import converter

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AiohttpTransport",
    "AuthenticationError",
    "Client",
    "ConnectError",
    "Customer",
    "Customers",
    "DecodeError",
    "EcomChargeError",
    "Handler",
    "Middleware",
    "NewCustomer",
    "NotFoundError",
    "PoolTimeoutError",
    "RateLimitError",
    "RawResponse",
    "Request",
    "Response",
    "RetryPolicy",
    "ServerError",
    "StreamingTransport",
    "Transport",
    "ValidationError",
    "__version__",
    "converter",
]


#: Where each public name lives. They are imported on first use: pytest loads the
#: package's plugin (a submodule) in every run of a project that installs the SDK,
#: and a run that never uses the fixtures should not pay for aiohttp.
_HOMES = {
    "AiohttpTransport": "._aiohttp",
    "Client": "._client",
    "Customers": "._customers",
    **dict.fromkeys(
        (
            "APIConnectionError",
            "APIError",
            "APITimeoutError",
            "AuthenticationError",
            "ConnectError",
            "DecodeError",
            "EcomChargeError",
            "NotFoundError",
            "PoolTimeoutError",
            "RateLimitError",
            "ServerError",
            "ValidationError",
        ),
        "._errors",
    ),
    **dict.fromkeys(("Request", "Response", "StreamingTransport", "Transport"), "._http"),
    **dict.fromkeys(("Handler", "Middleware"), "._middleware"),
    **dict.fromkeys(("Customer", "NewCustomer"), "._models"),
    "RawResponse": "._requester",
    "RetryPolicy": "._policy",
    "converter": "._serde",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use; httpx stays an optional extra."""
    if name == "HttpxTransport":
        try:
            from ._httpx import HttpxTransport
        except ModuleNotFoundError as exc:
            if exc.name != "httpx":
                raise
            raise ModuleNotFoundError(
                "HttpxTransport needs httpx: pip install 'ecomcharge-async[httpx]'",
                name="httpx",
            ) from exc
        return HttpxTransport
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "HttpxTransport"]
