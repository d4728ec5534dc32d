"""Async-first Python SDK for the eComCharge Customers API."""

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
    RateLimitError,
    ServerError,
    ValidationError,
)
from ._http import Request, Response, StreamingTransport, Transport
from ._middleware import Handler, Middleware
from ._models import Customer, NewCustomer
from ._retry import RetryPolicy
from ._version import __version__

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
    "RateLimitError",
    "Request",
    "Response",
    "RetryPolicy",
    "ServerError",
    "StreamingTransport",
    "Transport",
    "ValidationError",
    "__version__",
]
