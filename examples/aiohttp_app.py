"""An aiohttp.web app that shares one eComCharge `Client` for its whole life.

The client is created in a cleanup context (`app.cleanup_ctx`): opened when the
app starts, closed when it stops, shared by every request in between.

    ECOMCHARGE_SHOP_ID=... ECOMCHARGE_SECRET_KEY=... python examples/aiohttp_app.py

    curl -X POST localhost:8080/signup -d '{"email": "a@example.com"}'
    curl localhost:8080/customers/cst_...

Its tests (tests/test_examples.py) pass `transport=` a fake eComCharge.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
from aiohttp import web

import ecomcharge_async as ec

CLIENT = web.AppKey("ecomcharge_client", ec.Client)
SIGNUP_FIELDS = frozenset(
    {"email", "first_name", "last_name", "address", "city", "country", "zip", "state", "phone"}
)


def create_app(
    *,
    transport: ec.Transport | None = None,
    shop_id: str | None = None,
    secret_key: str | None = None,
    base_url: str | None = None,
) -> web.Application:
    """The app; credentials default to the ECOMCHARGE_* environment variables."""
    app = web.Application()
    app.cleanup_ctx.append(_client_context(transport, shop_id, secret_key, base_url))
    app.router.add_post("/signup", signup)
    app.router.add_get("/customers/{customer_id}", get_customer)
    return app


def _client_context(
    transport: ec.Transport | None,
    shop_id: str | None,
    secret_key: str | None,
    base_url: str | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ecomcharge_client(app: web.Application) -> AsyncIterator[None]:
        async with ec.Client(shop_id, secret_key, base_url=base_url, transport=transport) as client:
            app[CLIENT] = client
            yield

    return ecomcharge_client


async def signup(request: web.Request) -> web.Response:
    """POST /signup: create a customer from a JSON body; the IP is the caller's."""
    try:
        data = await request.json()
    except json.JSONDecodeError:
        return _error(400, "the body must be JSON")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    unknown = sorted(set(data) - SIGNUP_FIELDS)
    if unknown:
        return _error(400, f"unknown fields: {', '.join(unknown)}")
    if not all(isinstance(value, str) for value in data.values()):
        return _error(400, "every field must be a string")
    new = ec.NewCustomer(ip=request.remote or "", **data)
    try:
        customer = await request.app[CLIENT].customers.create(new)
    except ec.ValidationError as exc:
        return _error(422, exc.message, errors=exc.errors)
    except (ec.APIConnectionError, ec.APIError) as exc:
        # A create that failed this way may still have landed: say so, do not resend.
        return _error(502, f"the payment platform did not confirm the signup: {exc}")
    return web.json_response(_public(customer), status=201)


async def get_customer(request: web.Request) -> web.Response:
    """GET /customers/{id}: the customer as eComCharge holds it."""
    try:
        customer = await request.app[CLIENT].customers.get(request.match_info["customer_id"])
    except (ec.NotFoundError, ValueError):
        return _error(404, "no such customer")
    except (ec.APIConnectionError, ec.APIError) as exc:
        return _error(502, f"the payment platform did not answer: {exc}")
    return web.json_response(_public(customer))


def _public(customer: ec.Customer) -> dict[str, Any]:
    return {name: value for name, value in attrs.asdict(customer).items() if value is not None}


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


if __name__ == "__main__":
    web.run_app(create_app())
