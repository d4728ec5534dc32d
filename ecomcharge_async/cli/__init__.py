"""The `ecomcharge` command line: `import` a CSV or JSON Lines file, or run the `demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from .._argtypes import (
    auto_or_bounded_int,
    bounded_int,
    positive_float,
    positive_int,
    seconds,
    seconds_or_zero,
)
from .._core.client import Client
from .._core.errors import ValidationError
from .._core.logs import LOG_ENV, configure, configure_from_env
from .._core.models import NewCustomer
from .._version import __version__
from ..bulk import ImportSettings, parse_shard
from ..testing import FakeEcomCharge
from ..testing._backend import DEMO_SECRET, DEMO_SHOP_ID
from ._command import import_command
from ._import import LATER_CONNECT_DEADLINE

#: The most requests in flight `--concurrency` allows: far past what one process
#: can drive (about 7,500 rows/s), and each one holds a connection.
MAX_CONCURRENCY = 1000


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


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (scripts and logs read the last line), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _logging_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """-v and --log-format, before or after the subcommand (`ecomcharge -v import ...`)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if defaults else argparse.SUPPRESS,
        help="log the SDK to stderr: -v retries and pauses (INFO), -vv every request (DEBUG)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text" if defaults else argparse.SUPPRESS,
        help="log lines as text (default) or one JSON object each",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ecomcharge",
        description="eComCharge Customers API tools",
        epilog=f"{LOG_ENV}=debug|info also turns the logs on (in any program using the SDK).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _logging_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo", help="a short session against the embedded fake eComCharge"
    )
    _logging_options(demo_parser, defaults=False)
    imp = commands.add_parser(
        "import",
        help="create one customer per row of a CSV or JSON Lines file",
        description=(
            "Create one customer per row of PATH: CSV with a header row of field names, "
            "or JSON Lines (.jsonl/.ndjson, or sniffed). Credentials come from "
            "ECOMCHARGE_SHOP_ID and ECOMCHARGE_SECRET_KEY. Exit status: 0 every row "
            "created, 1 some rows rejected or failed, 2 bad usage or unreadable input, "
            "3 the API unreachable or refusing the credentials, 130/143 stopped by "
            "SIGINT/SIGTERM, 141 the output pipe closed. Every run keeps a journal (see "
            "--journal): running the same command again resumes, and sends nothing once "
            "the import is finished."
        ),
    )
    _logging_options(imp, defaults=False)
    imp.add_argument(
        "path",
        metavar="PATH",
        help="the CSV or JSON Lines file to import; - reads stdin (a pipe is read once)",
    )
    where = imp.add_mutually_exclusive_group()
    where.add_argument(
        "--fake", action="store_true", help="import into an embedded fake shop (no network)"
    )
    where.add_argument(
        "--base-url", metavar="URL", help="the API's base URL (default: $ECOMCHARGE_BASE_URL)"
    )
    imp.add_argument(
        "--concurrency",
        type=auto_or_bounded_int(MAX_CONCURRENCY),
        default="auto",
        metavar="auto|N",
        help="requests in flight at once: auto (the default) starts at 8 and follows the "
        "API's answers (grows while they come back in time, slows down on 429, 503 and "
        f"timeouts); a number N fixes it (at most {MAX_CONCURRENCY:,})",
    )
    imp.add_argument(
        "--max-concurrency",
        type=bounded_int(MAX_CONCURRENCY),
        metavar="N",
        help=f"with --concurrency auto, never more than N requests in flight "
        f"(default: {ImportSettings().max_concurrency}, at most {MAX_CONCURRENCY:,})",
    )
    imp.add_argument(
        "--rate", type=positive_float, metavar="R", help="at most R requests per second"
    )
    journal = imp.add_mutually_exclusive_group()
    journal.add_argument(
        "--journal",
        metavar="PATH",
        help="record progress here instead of the default journal (in $ECOMCHARGE_STATE_DIR, "
        "else $XDG_STATE_HOME/ecomcharge, else ~/.local/state/ecomcharge); running the "
        "same command again resumes ({shard} in PATH becomes the shard index)",
    )
    journal.add_argument(
        "--no-journal",
        action="store_true",
        help="keep no journal: a re-run sends every row again (nothing to resume from)",
    )
    imp.add_argument(
        "--failures",
        metavar="PATH",
        help="write each rejected or failed row here, as JSON Lines "
        "({shard} in PATH becomes the shard index)",
    )
    imp.add_argument(
        "--connect-deadline",
        type=seconds,
        default=30.0,
        metavar="SECONDS",
        help="stop the import (exit status 3) when no request has been answered and "
        "connections keep failing for this long (default: 30; once the API has answered, "
        f"{LATER_CONNECT_DEADLINE:.0f} or this, whichever is longer)",
    )
    imp.add_argument(
        "--progress-every",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, print a progress line this often (default: 10)",
    )
    imp.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bar or lines (errors still)"
    )
    imp.add_argument(
        "--grace",
        type=seconds_or_zero,
        default=10.0,
        metavar="SECONDS",
        help="on SIGINT or SIGTERM, let the requests in flight finish for this long "
        "(default: 10); a second signal stops at once",
    )
    imp.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object on stdout, and nothing else there",
    )
    imp.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="import only shard K of N (0 <= K < N): the input lines where line %% N == K; "
        "K may be JOB_COMPLETION_INDEX to read it from that variable (Kubernetes Indexed Job)",
    )
    imp.add_argument(
        "--shards",
        type=positive_int,
        metavar="N",
        help="with --celery: split the import into N shard tasks",
    )
    imp.add_argument(
        "--celery",
        action="store_true",
        help="run the shards on Celery workers (the celery extra; see the scale guide)",
    )
    return parser


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """The `ecomcharge` command; a reader that went away (`| head`) ends it quietly, 141."""
    try:
        args = build_parser().parse_args(argv)
        _configure_logging(args)
        if args.command == "demo":
            return asyncio.run(demo())
        if args.command == "import":
            return import_command(args)
        raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover
    except BrokenPipeError:
        _silence_closed_pipes()
        return 141


def _configure_logging(args: argparse.Namespace) -> None:
    """-v/-vv log the SDK at INFO/DEBUG; --log-format applies to $ECOMCHARGE_LOG's logs too."""
    if args.verbose:
        configure(logging.DEBUG if args.verbose > 1 else logging.INFO, fmt=args.log_format)
    elif args.log_format != "text":
        level = configure_from_env()
        if level is not None:
            configure(level, fmt=args.log_format)


def _silence_closed_pipes() -> None:
    """Point stdout and stderr at /dev/null, so the flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            # Not a real file (a test captures it): then nothing flushes to the pipe.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
