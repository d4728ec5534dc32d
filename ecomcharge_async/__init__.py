"""Async-first Python SDK for the eComCharge Customers API."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# ECOMCHARGE_LOG=debug|info turns the SDK's logs on in any program that imports it.
# The logging set-up is imported only then: pytest imports this package in every run
# of a project that installs it (the plugin is a submodule), and the plugin must stay
# cheap until a fixture is used.
if os.environ.get("ECOMCHARGE_LOG"):
    from ._core.logs import configure_from_env as _configure_from_env

    _configure_from_env()

if TYPE_CHECKING:
    from ._core.client import Client, ClientWithRawResponse
    from ._core.customers import Customers, CustomersWithRawResponse
    from ._core.errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        ConnectError,
        DecodeError,
        EcomChargeError,
        NotFoundError,
        PoolTimeoutError,
        ProxyError,
        RateLimitError,
        ServerError,
        ValidationError,
    )
    from ._core.http import Request, Response, StreamingTransport, Transport
    from ._core.middleware import Handler, Middleware
    from ._core.models import Customer, NewCustomer
    from ._core.policy import RetryPolicy
    from ._core.requester import RawResponse
    from ._core.sync import SyncClient, SyncCustomers, SyncCustomersWithRawResponse
    from ._core.sync_request import SyncClientWithRawResponse
    from ._serde.converter import converter
    from ._transports.aiohttp_transport import AiohttpTransport
    from ._transports.httpx_transport import HttpxTransport as HttpxTransport
    from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AiohttpTransport",
    "AuthenticationError",
    "Client",
    "ClientWithRawResponse",
    "ConnectError",
    "Customer",
    "Customers",
    "CustomersWithRawResponse",
    "DecodeError",
    "EcomChargeError",
    "Handler",
    "Middleware",
    "NewCustomer",
    "NotFoundError",
    "PoolTimeoutError",
    "ProxyError",
    "RateLimitError",
    "RawResponse",
    "Request",
    "Response",
    "RetryPolicy",
    "ServerError",
    "StreamingTransport",
    "SyncClient",
    "SyncClientWithRawResponse",
    "SyncCustomers",
    "SyncCustomersWithRawResponse",
    "Transport",
    "ValidationError",
    "__version__",
    "converter",
]


#: Where each public name lives. They are imported on first use: pytest loads the
#: package's plugin (a submodule) in every run of a project that installs the SDK,
#: and a run that never uses the fixtures should not pay for aiohttp.
_HOMES = {
    "AiohttpTransport": "._transports.aiohttp_transport",
    **dict.fromkeys(("Client", "ClientWithRawResponse"), "._core.client"),
    "Customers": "._core.customers",
    "CustomersWithRawResponse": "._core.customers",
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
            "ProxyError",
            "RateLimitError",
            "ServerError",
            "ValidationError",
        ),
        "._core.errors",
    ),
    **dict.fromkeys(("Request", "Response", "StreamingTransport", "Transport"), "._core.http"),
    **dict.fromkeys(("Handler", "Middleware"), "._core.middleware"),
    **dict.fromkeys(("Customer", "NewCustomer"), "._core.models"),
    "RawResponse": "._core.requester",
    "RetryPolicy": "._core.policy",
    **dict.fromkeys(("SyncClient", "SyncCustomers", "SyncCustomersWithRawResponse"), "._core.sync"),
    "SyncClientWithRawResponse": "._core.sync_request",
    "__version__": "._version",
    "converter": "._serde.converter",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use; httpx stays an optional extra."""
    if name == "HttpxTransport":
        try:
            from ._transports.httpx_transport import HttpxTransport
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
