"""Loopback eComCharge APIs with a shape: a rate limit, a slow answer, or neither.

`python benchmarks/limited_api.py bucket` serves the fake eComCharge behind a
token bucket (250 requests/s, burst 25; 429 beyond it, no Retry-After, as the
platform's docs describe; every answer after 20 ms); `slow` answers every
request after 200 ms with no limit; `plain` answers at once. It prints the base
URL on one line and serves until its stdin closes. `GET /_stats` tells what it
saw: requests, 429s, customers held and how many distinct e-mails among them,
so a benchmark checks that each row was created exactly once.

`limited_api(kind)` runs it in a process of its own (its CPU is not the client's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from _common import child_server
from aiohttp import web

#: kind: (requests per second, burst, seconds per answer); rate None is no limit.
SHAPES: dict[str, tuple[float | None, float, float]] = {
    "bucket": (250.0, 25.0, 0.020),
    "slow": (None, 0.0, 0.200),
    "plain": (None, 0.0, 0.0),
}
SHOP_ID = "361"
SECRET_KEY = "bench-secret-key"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; a request takes one or gets 429."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def shaped_app(kind: str) -> web.Application:
    from ecomcharge_async.testing import FakeEcomCharge
    from ecomcharge_async.testing._server import create_app

    rate, burst, latency = SHAPES[kind]
    fake = FakeEcomCharge(SHOP_ID, SECRET_KEY, seed=1)
    bucket = TokenBucket(rate, burst) if rate is not None else None
    stats = {"requests": 0, "rate_limited": 0}

    @web.middleware
    async def shape(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/_stats":
            held = fake.customers
            return web.json_response(
                {**stats, "customers": len(held), "distinct_emails": len({c.email for c in held})}
            )
        stats["requests"] += 1
        if bucket is not None and not bucket.take():
            stats["rate_limited"] += 1
            await asyncio.sleep(latency)
            return web.json_response({"message": "Too Many Requests"}, status=429)
        return await handler(request)  # the fake's own app waits `latency` first

    app = create_app(fake, latency=latency)
    app.middlewares.append(shape)
    return app


async def _serve(kind: str) -> None:
    from ecomcharge_async.testing._server import run_app

    async with run_app(shaped_app(kind)) as url:
        print(url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextmanager
def limited_api(kind: str) -> Iterator[str]:
    """Serve the `kind` API in a child process; yield its base URL."""
    with child_server("limited_api.py", kind) as (url, _):
        yield url


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_stats", timeout=30) as answer:
        result: dict[str, Any] = json.load(answer)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(SHAPES))
    asyncio.run(_serve(parser.parse_args().kind))


if __name__ == "__main__":
    main()
