"""`python -m ecomcharge_async.testing serve`: the fake eComCharge over HTTP on loopback.

Prints the base URL as the first line of stdout (flushed, so a parent process
can read it), then serves until SIGINT or SIGTERM. The same backend as the
in-memory fake answers, so imports and benchmarks run over real HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from .._argtypes import fraction, seconds_or_zero
from ._backend import DEMO_SECRET, DEMO_SHOP_ID, FakeEcomCharge
from ._faults import DEFAULT_RANDOM_FAULTS, Fault
from ._server import serve

FAULTS: dict[str, Fault] = {
    (str(fault.status_code) if fault.kind == "status" else fault.kind): fault
    for fault in DEFAULT_RANDOM_FAULTS
}


def _fault_names(text: str) -> tuple[Fault, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(unknown) or '(none given)'}; choose from {', '.join(FAULTS)}"
        )
    return tuple(FAULTS[name] for name in names)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ecomcharge_async.testing", description="the fake eComCharge"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser(
        "serve", help="serve a fake shop over HTTP until interrupted; prints its URL"
    )
    cmd.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    cmd.add_argument("--port", type=int, default=0, help="port (default: 0, any free port)")
    cmd.add_argument("--shop-id", default=DEMO_SHOP_ID, help="shop id (default: 361)")
    cmd.add_argument("--secret-key", default=DEMO_SECRET, help="secret key (default: demo-secret)")
    cmd.add_argument(
        "--fault-rate",
        type=fraction,
        default=0.0,
        metavar="P",
        help="give each request a random fault with probability P",
    )
    cmd.add_argument(
        "--faults", type=_fault_names, default=DEFAULT_RANDOM_FAULTS, metavar="LIST",
        help=f"the faults to choose from, comma-separated (default: {','.join(FAULTS)})",
    )  # fmt: skip
    cmd.add_argument("--seed", type=int, default=None, help="seed for faults and customer ids")
    cmd.add_argument(
        "--latency", type=seconds_or_zero, default=0.0, metavar="SECONDS",
        help="delay every request by this long",
    )  # fmt: skip
    cmd.add_argument(
        "--customers", type=int, default=0, metavar="N",
        help="start with N customers already in the shop",
    )  # fmt: skip
    return parser


def make_fake(args: argparse.Namespace) -> FakeEcomCharge:
    """The shop the command line describes, preloaded and with its faults set."""
    fake = FakeEcomCharge(shop_id=args.shop_id, secret_key=args.secret_key, seed=args.seed)
    for n in range(args.customers):
        fake.add(email=f"existing{n}@example.com", ip="192.0.2.1", first_name=f"Existing{n}")
    if args.fault_rate:
        fake.inject_random(args.fault_rate, seed=args.seed, faults=args.faults)
    return fake


async def _serve(fake: FakeEcomCharge, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still works
            loop.add_signal_handler(signum, stop.set)
    async with serve(fake, args.host, args.port, latency=args.latency) as url:
        print(url, flush=True)
        print(
            f"fake eComCharge shop {fake.shop_id} at {url} "
            f"(fault rate {args.fault_rate:g}, latency {args.latency:g} s); Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.customers < 0:
        print("error: --customers must not be negative", file=sys.stderr)
        return 2
    fake = make_fake(args)
    try:
        asyncio.run(_serve(fake, args))
    except OSError as exc:
        print(
            f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
