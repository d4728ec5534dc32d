"""The `ecomcharge` command line: `demo` for now."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from ._client import Client
from ._errors import ValidationError
from ._models import NewCustomer
from .testing import FakeEcomCharge

DEMO_SHOP_ID = "361"
DEMO_SECRET = "demo-secret"


async def demo(out: TextIO | None = None) -> int:
    """A short session against the embedded fake: create, a rejected create, get, list."""

    def say(line: str = "") -> None:
        print(line, file=out or sys.stdout)

    fake = FakeEcomCharge(shop_id=DEMO_SHOP_ID, secret_key=DEMO_SECRET, seed=361)
    async with Client(DEMO_SHOP_ID, DEMO_SECRET, transport=fake.transport()) as client:
        say("Creating a customer in the embedded fake eComCharge...")
        john = await client.customers.create(
            NewCustomer(
                email="john.doe@example.com",
                ip="127.0.0.1",
                first_name="John",
                last_name="Doe",
                country="US",
                city="Denver",
                zip="92006",
                state="CO",
            )
        )
        say(f"  created {john.id}: {john.first_name} {john.last_name} <{john.email}>")

        say("Creating one without an IP address (the API's documented 422)...")
        try:
            await client.customers.create(NewCustomer(email="customer@example.com", ip=""))
        except ValidationError as exc:
            say(f"  rejected with {exc.status}: {exc.message}")
            for field, messages in exc.errors.items():
                say(f"    {field}: {', '.join(messages)}")

        found = await client.customers.get(john.id)
        say(f"Fetched {found.id} again: {found.city}, {found.state} {found.zip}")

        everyone = await client.customers.list()
        say(f"The shop holds {len(everyone)} customer(s):")
        for customer in everyone:
            say(f"  {customer.id}  {customer.email}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecomcharge", description="eComCharge Customers API tools"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="a short session against the embedded fake eComCharge")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return asyncio.run(demo())
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
