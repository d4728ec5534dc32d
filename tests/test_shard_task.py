"""A queued shard's worker side without Celery: the exclusive journal, and the CLI's refusals.

The lock is tested directly: a shard whose journal another process holds is
refused (`ShardBusy`), never imported alongside, and is free again the moment
that process dies, even by SIGKILL.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ServerProcess

from ecomcharge_async.bulk import Counts, ImportSettings, InputError
from ecomcharge_async.bulk._journal import Journal
from ecomcharge_async.bulk._scan import scan_input
from ecomcharge_async.bulk._shard_task import ShardBusy, claim_shard, run_shard
from ecomcharge_async.cli import build_parser, import_command
from ecomcharge_async.testing._backend import DEMO_SECRET, DEMO_SHOP_ID

HOLD_JOURNAL = """
import sys
from ecomcharge_async.bulk._journal import Journal
journal = Journal(sys.argv[1], shop_id="361", base_url="http://127.0.0.1:1", input_id=None)
print("holding", flush=True)
sys.stdin.read()
"""


def write_csv(path: Path, count: int, *, bad_every: int = 0) -> Path:
    lines = ["email,ip,country"]
    for n in range(count):
        country = "UK" if bad_every and n % bad_every == 0 else "GB"
        lines.append(f"user{n}@example.com,192.0.2.1,{country}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_shard_whose_journal_is_open_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "import-0.journal"
    held = Journal(journal, shop_id="361", base_url="http://127.0.0.1:1", input_id=None)
    try:
        with pytest.raises(ShardBusy, match="in use by another copy"):
            claim_shard(str(journal), None)
    finally:
        held.close()
    claim_shard(str(journal), None)  # free again


def test_a_dead_holder_frees_the_shard_at_once(tmp_path: Path) -> None:
    journal = tmp_path / "import-0.journal"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_JOURNAL, str(journal)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], 30)
        assert ready
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(ShardBusy):
            claim_shard(str(journal), None)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        claim_shard(str(journal), None)  # the kernel dropped the dead process's lock
    finally:
        holder.kill()
        holder.wait(timeout=30)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()


def test_the_failures_file_is_emptied_only_for_a_fresh_shard(tmp_path: Path) -> None:
    journal, failures = tmp_path / "import-0.journal", tmp_path / "failures-0.jsonl"
    failures.write_text('{"line": 2}\n')
    claim_shard(str(journal), str(failures))
    assert failures.read_text() == ""  # an empty journal: a fresh shard, old failures go
    journal.write_text('{"journal": "ecomcharge-bulk-import"}\n')
    failures.write_text('{"line": 3}\n')
    claim_shard(str(journal), str(failures))
    assert failures.read_text() == '{"line": 3}\n'  # a resumed shard keeps them


def test_run_shard_refuses_a_held_shard_before_sending_anything(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "customers.csv", 10)
    journal = tmp_path / "import-0.journal"
    held = Journal(journal, shop_id="361", base_url="http://127.0.0.1:1", input_id=None)
    try:
        with pytest.raises(ShardBusy):
            # No ECOMCHARGE_* variables are set: a client would be refused first.
            run_shard(str(path), ImportSettings(shard=(0, 2)), journal=str(journal))
    finally:
        held.close()


def test_run_shard_needs_a_shard(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "customers.csv", 10)
    with pytest.raises(ValueError, match=r"settings.shard=\(k, n\)"):
        run_shard(str(path), ImportSettings(), journal=str(tmp_path / "j"))
    assert not (tmp_path / "j").exists()  # refused before the journal was touched


def test_run_shard_refuses_another_file_than_the_one_enqueued(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "customers.csv", 10)
    settings = ImportSettings(shard=(0, 2))
    with pytest.raises(InputError, match="not the file that was enqueued"):
        run_shard(str(path), settings, journal=str(tmp_path / "j"), input_id="sha256:0")


def test_run_shard_imports_its_slice_and_a_rerun_resumes(
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_server()
    monkeypatch.setenv("ECOMCHARGE_SHOP_ID", DEMO_SHOP_ID)
    monkeypatch.setenv("ECOMCHARGE_SECRET_KEY", DEMO_SECRET)
    monkeypatch.setenv("ECOMCHARGE_BASE_URL", server.url)
    path = write_csv(tmp_path / "customers.csv", 30, bad_every=10)
    journal, failures = str(tmp_path / "import-1.journal"), str(tmp_path / "failures-1.jsonl")
    seen: list[Counts] = []
    fingerprint = scan_input(path).fingerprint
    settings = ImportSettings(shard=(1, 3))
    report = run_shard(
        str(path), settings, journal=journal, failures=failures, input_id=fingerprint,
        on_counts=seen.append,
    )  # fmt: skip
    assert report["shard"] == 1
    assert (report["total"], report["created"], report["rejected"]) == (10, 9, 1)
    assert (report["shop_id"], report["base_url"]) == (DEMO_SHOP_ID, server.url)
    [failure] = [json.loads(line) for line in Path(failures).read_text().splitlines()]
    assert (failure["line"], failure["status"]) == (22, "rejected")  # user20: 22 % 3 == 1
    again = run_shard(str(path), settings, journal=journal, failures=failures)
    assert (again["total"], again["resumed"], again["created"]) == (10, 10, 9)
    assert len(Path(failures).read_text().splitlines()) == 1  # kept, not written twice


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--celery", "--shards", "3", "--journal", "import.journal"], "must contain {shard}"),
        (["--celery", "--shards", "3", "--failures", "bad.jsonl"], "must contain {shard}"),
        (["--shards", "3"], "--shards needs --celery"),
        (["--celery"], "--celery needs --shards N"),
        (["--celery", "--shards", "3", "--shard", "0/3"], "exclude each other"),
        (["--celery", "--shards", "3", "--fake"], "--fake cannot be shared"),
        (["--celery", "--shards", "3", "--base-url", "http://127.0.0.1:1"], "ECOMCHARGE_BASE"),
    ],
)
def test_celery_options_are_checked_before_anything_is_enqueued(
    tmp_path: Path, options: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "customers.csv", 3)
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["import", str(path), *options])
    assert import_command(args, out, err) == 2
    assert message in err.getvalue()
    assert out.getvalue() == ""


def test_an_unreadable_input_is_refused_before_anything_is_enqueued(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["import", str(tmp_path / "nope.csv"), "--celery"])
    args.shards = 2
    assert import_command(args, out, err) == 2
    assert "cannot read" in err.getvalue()
