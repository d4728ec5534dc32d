"""The `ecomcharge` command line: `import` a CSV or JSON Lines file, or run the `demo`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from ._aiohttp import AiohttpTransport
from ._argtypes import positive_float, positive_int
from ._client import Client
from ._errors import AuthenticationError, ValidationError
from ._journal import JournalError
from ._models import NewCustomer
from ._progress import ProgressBar, summary
from ._rows import InputError, RowReader, scan_input
from ._shard import parse_shard
from .bulk import ImportReport, RowOutcome, import_customers
from .testing import FakeEcomCharge
from .testing._backend import DEMO_SECRET, DEMO_SHOP_ID


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
    imp = commands.add_parser(
        "import",
        help="create one customer per row of a CSV or JSON Lines file",
        description=(
            "Create one customer per row of PATH: CSV with a header row of field names, "
            "or JSON Lines (.jsonl/.ndjson, or sniffed). Credentials come from "
            "ECOMCHARGE_SHOP_ID and ECOMCHARGE_SECRET_KEY. Exit status: 0 every row "
            "created, 1 some rows rejected or failed, 2 bad usage or unreadable input."
        ),
    )
    imp.add_argument("path", metavar="PATH", help="the CSV or JSON Lines file to import")
    where = imp.add_mutually_exclusive_group()
    where.add_argument(
        "--fake", action="store_true", help="import into an embedded fake shop (no network)"
    )
    where.add_argument(
        "--base-url", metavar="URL", help="the API's base URL (default: $ECOMCHARGE_BASE_URL)"
    )
    imp.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        metavar="N",
        help="requests in flight at once (default: 16)",
    )
    imp.add_argument(
        "--rate", type=positive_float, metavar="R", help="at most R requests per second"
    )
    imp.add_argument(
        "--journal",
        metavar="PATH",
        help="record progress here; run again with the same journal to resume "
        "({shard} in PATH becomes the shard index)",
    )
    imp.add_argument(
        "--failures",
        metavar="PATH",
        help="write each rejected or failed row here, as JSON Lines "
        "({shard} in PATH becomes the shard index)",
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


def _for_shard(path: str | None, shard: tuple[int, int] | None) -> str | None:
    """`path` with `{shard}` replaced by the shard index, so n workers share one spec."""
    if path is None or shard is None:
        return path
    return path.replace("{shard}", str(shard[0]))


def _rows_in_shard(first: int, last: int, shard: tuple[int, int] | None) -> int:
    """How many of the lines first..last the shard takes (for the progress bar)."""
    if shard is None:
        return max(0, last - first + 1)
    index, count = shard
    return max(0, (last - index) // count - (first - 1 - index) // count)


class _FailuresFile:
    """Rejected and failed rows as JSON Lines: line, status, message, errors, row."""

    def __init__(self, path: str, *, append: bool) -> None:
        self.path = path
        self._file = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115

    def write(self, outcome: RowOutcome) -> None:
        if outcome.status == "created" or outcome.resumed:
            return
        row = None
        if outcome.customer is not None:
            row = {k: v for k, v in attrs.asdict(outcome.customer).items() if v is not None}
        record: dict[str, Any] = {
            "line": outcome.line,
            "status": outcome.status,
            "message": outcome.message,
            "errors": outcome.errors,
            "row": row,
        }
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _resuming(journal: str | None) -> bool:
    return journal is not None and os.path.exists(journal) and os.path.getsize(journal) > 0


async def _import(
    args: argparse.Namespace, reader: RowReader, input_id: str, total: int, stderr: TextIO
) -> tuple[ImportReport, str]:
    failures = (
        _FailuresFile(args.failures, append=_resuming(args.journal)) if args.failures else None
    )
    try:
        if args.fake:
            fake = FakeEcomCharge(shop_id=DEMO_SHOP_ID, secret_key=DEMO_SECRET, seed=361)
            client = Client(DEMO_SHOP_ID, DEMO_SECRET, transport=fake.transport(), retry=None)
            target = f"the embedded fake shop {DEMO_SHOP_ID}"
        else:
            # The session is created on first use, so a refused configuration leaks nothing.
            transport = AiohttpTransport(timeout=None, limit=max(100, args.concurrency))
            # retry=None: the importer retries itself, pausing the whole import on overload.
            client = Client(base_url=args.base_url, transport=transport, retry=None)
            target = f"shop {client.shop_id} at {client.base_url}"
    except BaseException:
        if failures is not None:
            failures.close()
        raise
    bar = ProgressBar(stderr, total) if stderr.isatty() else None

    def on_progress(outcome: RowOutcome) -> None:
        if failures is not None:
            failures.write(outcome)
        if bar is not None:
            bar.update(outcome)

    try:
        async with client:
            report = await import_customers(
                client,
                reader,
                concurrency=args.concurrency,
                rate=args.rate,
                journal=args.journal,
                input_id=input_id,
                on_progress=on_progress,
                shard=args.shard,
            )
    finally:
        if bar is not None:
            bar.close()
        if failures is not None:
            failures.close()
    return report, target


def import_command(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run `ecomcharge import`; return the exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr

    def usage_error(message: str) -> int:
        print(f"ecomcharge import: error: {message}", file=err)
        return 2

    if args.celery or args.shards is not None:
        from ._celery_run import celery_import

        return celery_import(args, out, err)
    args.journal = _for_shard(args.journal, args.shard)
    args.failures = _for_shard(args.failures, args.shard)
    if args.fake and args.journal:
        return usage_error(
            "--journal needs a shop that outlives the command; the --fake shop starts "
            "empty on every run"
        )
    for option, path in (("--journal", args.journal), ("--failures", args.failures)):
        if path is not None and _same_file(path, args.path):
            return usage_error(f"{option} {path} is the input file; choose another path")
    if not args.fake:
        for name in ("ECOMCHARGE_SHOP_ID", "ECOMCHARGE_SECRET_KEY"):
            if not os.environ.get(name):
                return usage_error(
                    f"set {name} (and the other ECOMCHARGE_* variables) or use --fake"
                )
    try:
        scan = scan_input(args.path)
        reader = RowReader(args.path)
    except InputError as exc:
        return usage_error(str(exc))
    first = 2 if reader.format == "csv" else 1
    total = _rows_in_shard(first, scan.lines, args.shard)
    try:
        with reader:
            report, target = asyncio.run(_import(args, reader, scan.fingerprint, total, err))
    except (InputError, JournalError, OSError) as exc:
        return usage_error(str(exc))
    except AuthenticationError as exc:
        return usage_error(
            f"the API refused the credentials ({exc.message}); nothing more was sent"
        )
    except KeyboardInterrupt:
        hint = (
            "run again with the same --journal to finish"
            if args.journal
            else "customers created so far stay; --journal makes an import resumable"
        )
        print(f"ecomcharge import: interrupted; {hint}", file=err)
        return 130
    source = f"{args.path} (shard {args.shard[0]}/{args.shard[1]})" if args.shard else args.path
    print(summary(report, source=source, target=target), file=out)
    if args.failures and not report.ok:
        print(f"  rejected and failed rows: {args.failures}", file=out)
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return asyncio.run(demo())
    if args.command == "import":
        return import_command(args)
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
