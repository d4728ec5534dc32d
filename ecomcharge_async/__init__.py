"""Async-first Python SDK for the eComCharge Customers API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from ._logs import configure_from_env as _configure_from_env
from ._middleware import Handler, Middleware
from ._models import Customer, NewCustomer
from ._policy import RetryPolicy
from ._requester import RawResponse
from ._serde import converter
from ._version import __version__

# ECOMCHARGE_LOG=debug|info turns the SDK's logs on in any program that imports it.
_configure_from_env()

if TYPE_CHECKING:
    from ._httpx import HttpxTransport as HttpxTransport

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


def __getattr__(name: str) -> Any:
    """Import optional transports on first use, so their libraries stay optional."""
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
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "HttpxTransport"]
