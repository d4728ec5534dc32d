"""How the middleware chain is linked: once, when the client is built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from ._http import Request, Response

Handler = Callable[[Request], Awaitable[Response]]


class Middleware(Protocol):
    """Anything with `async def __call__(request, call_next) -> Response`."""

    async def __call__(self, request: Request, call_next: Handler, /) -> Response: ...


def _bind(middleware: Middleware, call_next: Handler) -> Handler:
    async def handler(request: Request) -> Response:
        return await middleware(request, call_next)

    return handler


def link(middleware: Sequence[Middleware], send: Handler) -> Handler:
    """One handler that runs `middleware` in order, the first outermost, then `send`."""
    handler = send
    for layer in reversed(middleware):
        handler = _bind(layer, handler)
    return handler
