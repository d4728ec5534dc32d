"""`ecomcharge import`: the options and the input checked, the journal chosen, the run's end told.

A local import keeps a journal unless `--no-journal` is given (`--fake` keeps
none: its shop lives only for the run). Without `--journal` it lives in the
per-user state folder (`_state.py`). A pipe is read once and has no name to key
a journal to, so it needs `--journal` or `--no-journal`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import TextIO

from ..bulk import ImportSettings, InputError, JournalError, RowReader, is_stream, scan_input
from ._files import RunTally, clashing_paths
from ._import import STOPPED, Ending, UsageError, json_summary, make_client, run_import
from ._progress import summary
from ._state import default_journal

#: Why a pipe is refused without a journal choice: it cannot be read again to resume.
PIPE_NEEDS_A_CHOICE = (
    "{path} is read once (a pipe): give --journal PATH to make the import resumable, "
    "or --no-journal to import it with no way to resume"
)


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


def _journal_message(exc: JournalError, named: bool) -> str:
    """The journal's error; `--journal PATH ...` when the user named it, else `journal PATH ...`."""
    message = str(exc)
    return "--" + message if named and message.startswith("journal ") else message


def _resume_hint(args: argparse.Namespace) -> str:
    if args.journal:
        return f"run the same command again to resume (journal: {args.journal})"
    if args.fake:
        return "the --fake shop is gone with this run"
    return "customers created so far stay; with --no-journal a re-run sends every row again"


def _all_done_before(ending: Ending, tally: RunTally) -> str | None:
    """The one line for a re-run of a finished import (nothing sent), else None."""
    report = ending.report
    if report is None or ending.code not in (0, 1) or not report.resumed:
        return None
    if report.total != report.resumed + tally.unsent:
        return None
    how = f" ({report.created:,} created, {report.rejected:,} rejected)" if report.rejected else ""
    return f"all {report.total:,} rows were imported by an earlier run{how}"


def _choose_journal(args: argparse.Namespace, shop_id: str, base_url: str, streamed: bool) -> None:
    """Set `args.journal` to the journal this run keeps, or None; UsageError for a bare pipe."""
    if args.fake or args.no_journal or args.journal is not None:
        return
    if streamed:
        path = "stdin" if args.path == "-" else args.path
        raise UsageError(PIPE_NEEDS_A_CHOICE.format(path=path))
    args.journal = default_journal(shop_id, base_url, args.path, args.shard)


def import_command(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run `ecomcharge import`; return the exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr

    def usage_error(message: str) -> int:
        print(f"ecomcharge import: error: {message}", file=err)
        if args.json:
            print(json.dumps(json_summary(args, Ending(2, "usage", message))), file=out)
        return 2

    if args.max_concurrency is not None and args.concurrency != "auto":
        return usage_error(
            "--max-concurrency bounds --concurrency auto; with a number, "
            "--concurrency alone sets the requests in flight"
        )
    args.max_concurrency = args.max_concurrency or ImportSettings().max_concurrency
    if args.celery or args.shards is not None:
        from ._celery import celery_import

        return celery_import(args, out, err)
    args.journal = _for_shard(args.journal, args.shard)
    args.failures = _for_shard(args.failures, args.shard)
    if args.fake and args.journal:
        return usage_error(
            "--journal needs a shop that outlives the command; the --fake shop starts "
            "empty on every run"
        )
    clash = clashing_paths(
        [("PATH", args.path), ("--journal", args.journal), ("--failures", args.failures)]
    )
    if clash is not None:
        return usage_error(clash)
    if not args.fake:
        for name in ("ECOMCHARGE_SHOP_ID", "ECOMCHARGE_SECRET_KEY"):
            if not os.environ.get(name):
                return usage_error(
                    f"set {name} (and the other ECOMCHARGE_* variables) or use --fake"
                )
    named_journal = args.journal is not None  # else the default one, chosen below
    try:
        client, target = make_client(args, None)  # checks the configuration before reading input
        streamed = is_stream(args.path)
        _choose_journal(args, client.shop_id, client.base_url, streamed)
        scan = None if streamed else scan_input(args.path)
        reader = RowReader(args.path)
    except (UsageError, InputError, OSError) as exc:
        return usage_error(str(exc))
    except KeyboardInterrupt:  # waiting for stdin's first line: nothing was read or sent
        message = "interrupted by SIGINT before the first row arrived"
        print(f"ecomcharge import: {message}", file=err)
        if args.json:
            print(json.dumps(json_summary(args, Ending(130, "SIGINT", message))), file=out)
        return 130
    total, input_id = None, None
    if scan is not None:
        input_id = scan.fingerprint
        first = 2 if reader.format == "csv" else 1
        total = _rows_in_shard(first, scan.lines, args.shard)
    tally = RunTally()
    started = time.monotonic()
    source = reader.path
    if args.shard:
        source += f" (shard {args.shard[0]}/{args.shard[1]})"
    try:
        with reader:
            ending = asyncio.run(run_import(args, reader, input_id, total, err, tally))
    except JournalError as exc:
        return usage_error(_journal_message(exc, named_journal))
    except BrokenPipeError:
        raise  # a reader went away: main() ends quietly
    except OSError as exc:
        return usage_error(str(exc))
    except KeyboardInterrupt:  # before the import's own handlers were in place
        ending = Ending(130, "SIGINT", "interrupted by SIGINT")
    if ending.report is None and ending.code >= 2:
        ending.report = tally.report(time.monotonic() - started)
    return _tell(args, ending, tally, source=source, target=target, out=out, err=err)


def _tell(
    args: argparse.Namespace,
    ending: Ending,
    tally: RunTally,
    *,
    source: str,
    target: str,
    out: TextIO,
    err: TextIO,
) -> int:
    """Say how the import ended: a line on stderr for a stop, then the summary."""
    if ending.message is not None:
        print(f"ecomcharge import: {ending.message}; {_resume_hint(args)}", file=err)
    report = ending.report
    already = _all_done_before(ending, tally)
    if already is not None:
        already += f"; journal: {args.journal}"
        ending.reason, ending.message = "already imported", already
    if args.json:
        print(json.dumps(json_summary(args, ending, source=source, target=target)), file=out)
    elif already is not None:
        print(already, file=out)
    elif report is not None:
        stopped = STOPPED.get(ending.reason, ending.reason) if ending.code >= 2 else None
        print(summary(report, source=source, target=target, stopped=stopped), file=out)
        if args.journal:
            print(f"  journal: {args.journal}", file=out)
        if args.failures and not report.ok:
            print(f"  rejected and failed rows: {args.failures}", file=out)
    return ending.code
