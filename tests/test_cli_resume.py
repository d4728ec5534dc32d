"""Run again the way people run it, an import never creates a customer twice (issue 22).

Each test runs the real `ecomcharge import` in child processes against the
loopback fake server (served from a thread of the test where it must hold the
creates at a point, to stop an import there whatever the machine's speed),
with the default journal (in the test's own state folder) unless the case is
about `--journal` or `--no-journal`, and counts what the shop holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import ServerProcess
from test_cli import cli, cli_env, list_with_retries, one_line_error, wait_for, write_csv

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault
from ecomcharge_async.testing._backend import UNAUTHORIZED
from ecomcharge_async.testing._server import create_app, run_app, serve

COMMAND = (sys.executable, "-m", "ecomcharge_async", "import")


def state_journals() -> list[Path]:
    """The default journals written so far (the tests' state folder, set in conftest)."""
    folder = Path(os.environ["ECOMCHARGE_STATE_DIR"])
    return sorted(folder.glob("*.journal")) if folder.exists() else []


def the_default_journal() -> Path:
    (journal,) = state_journals()
    return journal


def held(server: ServerProcess) -> Counter[str]:
    """How many customers the shop holds per e-mail."""
    return Counter(c.email for c in asyncio.run(list_with_retries(server.url)))


def emails(rows: range) -> Counter[str]:
    return Counter(f"user{n}@example.com" for n in rows)


def count(label: str, summary: str) -> int:
    found = re.search(rf"^\s+{label}\s+([\d,]+)$", summary, re.MULTILINE)
    assert found, summary
    return int(found.group(1).replace(",", ""))


def test_a_rejected_row_fixed_in_the_file_is_the_only_row_sent_again(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "customers.csv", 800)
    text = path.read_text()
    bad = text.replace(
        "user399@example.com,10.1.1.150,Ann,US,", "user399@example.com,10.1.1.150,Ann,XX,"
    )
    assert bad != text  # line 401 (data row 400) now has an unknown country
    path.write_text(bad)
    command = ["import", str(path), "--base-url", server.url]
    first = cli(*command)
    assert first.returncode == 1, first.stdout + first.stderr
    assert (count("created", first.stdout), count("rejected", first.stdout)) == (799, 1)
    assert f"journal: {the_default_journal()}" in first.stdout
    path.write_text(text)  # the user fixes the row and runs the same command again
    second = cli(*command)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "changed since the journal's last run; resuming by row content" in second.stderr
    assert (count("rows read", second.stdout), count("created", second.stdout)) == (800, 800)
    assert "799 row(s) were finished by an earlier run" in second.stdout
    assert held(server) == emails(range(800))  # 800 customers for 800 rows


def test_an_import_killed_with_sigkill_and_run_again_as_it_was_creates_each_row_once(
    tmp_path: Path,
) -> None:
    fake, gate, app = gated_shop(seed=9, after=200)
    rows = 1000
    path = write_csv(tmp_path / "customers.csv", rows)
    with served_in_a_thread(app) as url:
        command = [*COMMAND, str(path), "--base-url", url, "--concurrency", "16"]
        first = subprocess.Popen(
            command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for(
                lambda: gate.held > 0 or first.poll() is not None,
                "creates held once 200 customers were created",
            )
            assert first.poll() is None, "the import ended before it could be killed"
            first.kill()
            assert first.wait(timeout=30) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=30)
        gate.open()  # creates whose sender died, journaled as sent: they may still land
        wait_for(lambda: gate.held == 0, "the held creates to end")
        before = len(fake.customers)
        assert 200 <= before < rows
        second = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert count("created", second.stdout) == rows
    assert Counter(c.email for c in fake.customers) == emails(range(rows))


def test_a_bad_byte_in_a_pipe_stops_with_counts_then_a_fixed_rerun_creates_each_row_once(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    rows = 3000
    text = write_csv(tmp_path / "customers.csv", rows).read_bytes()
    lines = text.split(b"\n")
    broken = lines[:]
    broken[2001] = broken[2001].replace(b"Ann", b"An\xffn")  # line 2,002 of the input
    journal = tmp_path / "stdin.journal"
    command = [*COMMAND, "-", "--base-url", server.url, "--journal", str(journal), "--json"]
    first = subprocess.run(
        command, env=cli_env(), input=b"\n".join(broken), capture_output=True, timeout=300
    )
    assert first.returncode == 2, first.stderr
    summary = json.loads(first.stdout)
    message = summary["message"]
    assert "stdin: line 2002: not UTF-8 text" in message
    assert "An\xffn" not in message
    stored = sum(held(server).values())
    assert 0 < stored < rows
    assert summary["created"] == stored  # never `created 0` when rows were created
    assert summary["rejected"] == summary["failed"] == 0
    assert "run the same command again to resume" in first.stderr.decode()
    second = subprocess.run(command, env=cli_env(), input=text, capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["rows"], again["created"], again["resumed"]) == (rows, rows, stored)
    assert held(server) == emails(range(rows))


def test_a_pipe_needs_a_journal_choice(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server("--secret-key", "k")
    result = cli(
        "import", "-", "--base-url", server.url, stdin="email,ip\na@example.com,10.0.0.1\n"
    )
    line = one_line_error(result)
    assert "--journal PATH" in line
    assert "--no-journal" in line
    assert state_journals() == []
    assert sum(held(server).values()) == 0
    piped = cli(
        *("import", "-", "--base-url", server.url, "--no-journal"),
        stdin="email,ip\na@example.com,10.0.0.1\n",
    )
    assert piped.returncode == 0, piped.stderr
    assert sum(held(server).values()) == 1


def test_a_finished_import_run_again_sends_nothing_and_ends_as_it_did(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = tmp_path / "in.csv"
    path.write_text(
        "email,ip,country,state\n"
        + "".join(f"user{n}@example.com,10.0.{n // 250}.{n % 250 + 1},US,CO\n" for n in range(299))
        + "bad@example.com,not-an-ip,US,CO\n"
    )
    command = ["import", str(path), "--base-url", server.url]
    assert cli(*command).returncode == 1
    journal = the_default_journal()
    size = journal.stat().st_size
    again = cli(*command)
    assert again.returncode == 1  # as the import did: one row was rejected
    assert again.stdout == (
        "all 300 rows were imported by an earlier run (299 created, 1 rejected); "
        f"journal: {journal}\n"
    )
    assert held(server) == emails(range(299))
    records = journal.read_text().splitlines()[-1:]  # the re-run's only record: its run
    assert json.loads(records[0])["run"] > 0
    assert journal.stat().st_size > size
    as_json = json.loads(cli(*command, "--json").stdout)
    assert (as_json["reason"], as_json["rows"], as_json["resumed"]) == (
        "already imported",
        300,
        300,
    )
    assert as_json["journal"] == str(journal)


def test_no_journal_writes_no_file(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "a.csv", 20)
    result = cli("import", str(path), "--base-url", server.url, "--no-journal")
    assert result.returncode == 0, result.stderr
    assert "journal:" not in result.stdout
    assert state_journals() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "server0.log"]
    assert not Path(os.environ["XDG_STATE_HOME"]).exists()


def test_the_fake_keeps_no_journal(tmp_path: Path) -> None:
    result = cli("import", str(write_csv(tmp_path / "a.csv", 5)), "--fake")
    assert result.returncode == 0, result.stderr
    assert state_journals() == []


@pytest.mark.parametrize("lines_after", [False, True])
def test_a_cut_journal_header_is_refused_and_nothing_sent(
    start_server: Callable[..., ServerProcess], tmp_path: Path, lines_after: bool
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "a.csv", 40)
    command = ["import", str(path), "--base-url", server.url]
    assert cli(*command).returncode == 0
    journal = the_default_journal()
    header, rest = journal.read_bytes().split(b"\n", 1)
    cut = header[:30] + (b"\n" + rest if lines_after else b"")
    journal.write_bytes(cut)
    line = one_line_error(cli(*command))
    assert line.startswith(f"ecomcharge import: error: journal {journal} line 1: ")
    assert "left as it is" in line
    assert journal.read_bytes() == cut
    assert held(server) == emails(range(40))


class Gate:
    """Holds every create once the shop has `after` customers, until `open`: an import
    cannot finish while it is shut. `held` counts the creates waiting at it."""

    def __init__(self, fake: FakeEcomCharge, after: int = 0) -> None:
        self.fake = fake
        self.after = after
        self.held = 0
        self.opened = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        assert self.loop is not None, "no request reached the gate"
        self.loop.call_soon_threadsafe(self.opened.set)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.loop = asyncio.get_running_loop()
        if request.method == "POST" and len(self.fake.customers) >= self.after:
            self.held += 1
            try:
                await self.opened.wait()
            finally:
                self.held -= 1
        response: web.StreamResponse = await handler(request)
        return response


def gated_shop(seed: int, after: int = 0) -> tuple[FakeEcomCharge, Gate, web.Application]:
    """A shop behind a `Gate` that shuts once it holds `after` customers; its app to serve."""
    fake = FakeEcomCharge(shop_id="361", secret_key="k", seed=seed)
    gate = Gate(fake, after)
    app = create_app(fake)
    app.middlewares.append(gate.middleware)
    return fake, gate, app


def test_two_identical_runs_at_once_create_each_row_once(tmp_path: Path) -> None:
    fake, gate, app = gated_shop(seed=6)
    rows = 200
    path = write_csv(tmp_path / "customers.csv", rows)

    def start(url: str) -> subprocess.Popen[str]:
        command = [*COMMAND, str(path), "--base-url", url, "--concurrency", "2"]
        return subprocess.Popen(
            command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    with served_in_a_thread(app) as url:
        first = start(url)
        try:
            # The first run has sent its first creates: it holds the journal, and
            # cannot finish before the gate opens.
            wait_for(lambda: gate.held > 0, "the first run's first create")
            second = start(url)
            second_out, second_err = second.communicate(timeout=120)
            gate.open()
            first_out, first_err = first.communicate(timeout=120)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate(timeout=30)
    assert first.returncode == 0, first_out + first_err
    assert second.returncode == 2, second_out + second_err
    in_use = f"journal {the_default_journal()} is in use by another import (pid {first.pid})"
    assert f"ecomcharge import: error: {in_use}\n" == second_err
    assert second_out == ""
    assert Counter(c.email for c in fake.customers) == emails(range(rows))


def test_sigterm_summary_counts_what_the_shop_holds(tmp_path: Path) -> None:
    fake, gate, app = gated_shop(seed=15, after=50)
    rows = 600
    path = write_csv(tmp_path / "customers.csv", rows)
    with served_in_a_thread(app) as url:
        command = [*COMMAND, str(path), "--base-url", url, "--concurrency", "8", "--json"]
        process = subprocess.Popen(
            [*command, "--quiet"],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(
                lambda: gate.held > 0 or process.poll() is not None,
                "creates held once 50 customers were created",
            )
            assert process.poll() is None, "the import ended before the signal"
            process.send_signal(signal.SIGTERM)
            assert process.stderr is not None
            taken = process.stderr.readline()  # --quiet: the stop's line comes first
            assert "SIGTERM: taking no more rows" in taken, taken
            gate.open()  # the creates in flight finish within the grace period
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
        assert process.returncode == 143, err
        summary = json.loads(out)
        shop = len(fake.customers)
        assert 50 <= shop < rows
        assert summary["created"] == shop
        assert summary["journal"] == str(the_default_journal())
        rerun = cli(*command[3:])
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["resumed"] == shop
    assert Counter(c.email for c in fake.customers) == emails(range(rows))


def test_a_shard_gets_a_default_journal_of_its_own(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "customers.csv", 90)
    for k in range(3):
        result = cli("import", str(path), "--base-url", server.url, "--shard", f"{k}/3")
        assert result.returncode == 0, result.stderr
    names = [journal.name for journal in state_journals()]
    assert sorted(name.rsplit("-shard-", 1)[1] for name in names) == [
        "0-of-3.journal",
        "1-of-3.journal",
        "2-of-3.journal",
    ]
    again = cli("import", str(path), "--base-url", server.url, "--shard", "1/3")
    assert again.stdout.startswith("all 30 rows were imported by an earlier run; journal: ")
    assert held(server) == emails(range(90))


async def test_the_library_import_makes_one_attempt_per_call_under_503s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeEcomCharge(shop_id="361", secret_key="k", seed=22)
    fake.inject_random(0.3, seed=22, faults=(Fault.status(503),))
    rows = [ec.NewCustomer(email=f"user{n}@example.com", ip="10.0.0.1") for n in range(200)]

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    caplog.set_level("INFO", logger="ecomcharge_async")
    async with serve(fake) as url, ec.Client("361", "k", base_url=url) as client:
        policy = client.retry
        assert policy is not None  # the default RetryPolicy: 3 attempts per call
        report = await ec.bulk.import_customers(client, rows, sleep=no_wait, journal=tmp_path / "j")
        assert client.retry is policy  # the caller's client is left as it is
    retried = sum("pausing the import, then attempt" in r.getMessage() for r in caplog.records)
    assert report.created == 200
    assert retried > 30  # 30% of the creates answered 503
    # One request per create call: the 200 that landed and each 503 the import saw.
    assert fake.request_count == 200 + retried
    assert len(fake.customers) == 200


def test_the_state_folder_follows_the_environment(tmp_path: Path) -> None:
    from ecomcharge_async.cli._state import state_dir

    home = Path("~").expanduser()
    assert state_dir({}) == home / ".local" / "state" / "ecomcharge"
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "ecomcharge"
    chosen = {"XDG_STATE_HOME": str(tmp_path), "ECOMCHARGE_STATE_DIR": str(tmp_path / "mine")}
    assert state_dir(chosen) == tmp_path / "mine"


def test_an_unusable_state_folder_is_one_line_naming_the_way_out(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {**cli_env(), "ECOMCHARGE_STATE_DIR": str(blocker / "state")}
    path = write_csv(tmp_path / "a.csv", 3)
    line = one_line_error(cli("import", str(path), "--base-url", "http://127.0.0.1:9", env=env))
    assert "cannot create the journal folder" in line
    assert "--no-journal" in line


def _small_file_limit(limit: int) -> Callable[[], None]:
    """A child's setup: files it writes stop at `limit` bytes (EFBIG, as a full disk)."""

    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return setup


def test_a_full_disk_while_journalling_stops_with_counts_and_a_rerun_creates_each_row_once(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k", "--latency", "0.01")
    rows = 300
    path = write_csv(tmp_path / "customers.csv", rows)
    command = [*COMMAND, str(path), "--base-url", server.url, "--concurrency", "8", "--json"]
    # The journal's header, its run record and about 60 rows' records fit in 8 KB.
    # The limit holds for every file the child writes: it measures no coverage.
    unmeasured = {
        name: value
        for name, value in cli_env().items()
        if not name.startswith(("COV_CORE_", "COVERAGE_"))
    }
    first = subprocess.run(
        command,
        env=unmeasured,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_small_file_limit(8000),
    )
    assert first.returncode == 2, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    summary = json.loads(first.stdout)
    journal = the_default_journal()
    assert journal.stat().st_size == 8000  # the disk filled up mid-record
    assert summary["reason"] == "write"
    assert summary["message"] == f"cannot write {journal}: File too large; nothing more was sent"
    assert f"{summary['message']}; run the same command again to resume (journal: {journal})" in (
        first.stderr
    )
    shop = sum(held(server).values())
    assert 0 < shop < rows
    assert summary["created"] == shop  # what the shop holds, not `created 0`
    assert summary["rows"] == summary["created"] + summary["rejected"] + summary["failed"]
    second = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    again = json.loads(second.stdout)
    assert (again["rows"], again["created"]) == (rows, rows)
    assert held(server) == emails(range(rows))


class KeyChange:
    """The shop's key changes once `after` customers were created: 401 to every request
    arriving later, until `restore`. Creates that were being handled then land, but
    their answers are held until a 401 has been answered: the importer learns of the
    401 while customers it sent are stored and not yet confirmed."""

    def __init__(self, fake: FakeEcomCharge, after: int) -> None:
        self.fake = fake
        self.after = after
        self.changed = threading.Event()
        self.happened = False
        self.refused = asyncio.Event()

    def restore(self) -> None:
        self.changed.clear()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.changed.is_set():
            refusal = web.json_response(UNAUTHORIZED, status=401)
            await refusal.prepare(request)
            await refusal.write_eof()
            self.refused.set()
            return refusal
        response: web.StreamResponse = await handler(request)
        if self.happened:
            await self.refused.wait()
        elif len(self.fake.customers) >= self.after:
            self.happened = True  # once: after `restore` the new key stays
            self.changed.set()
        return response


@contextlib.contextmanager
def served_in_a_thread(app: web.Application) -> Iterator[str]:
    """Serve `app` on loopback from a loop in a thread of its own; yield its URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    served = run_app(app, shutdown_timeout=0.1)
    try:
        yield asyncio.run_coroutine_threadsafe(served.__aenter__(), loop).result(30)
        asyncio.run_coroutine_threadsafe(served.__aexit__(None, None, None), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def test_a_401_mid_import_stops_with_counts_and_a_rerun_creates_each_row_once(
    tmp_path: Path,
) -> None:
    fake = FakeEcomCharge(shop_id="361", secret_key="k", seed=401)
    key_change = KeyChange(fake, after=100)
    app = create_app(fake, latency=0.01)  # creates in flight when the key changes
    app.middlewares.append(key_change.middleware)
    rows = 300
    path = write_csv(tmp_path / "customers.csv", rows)
    with served_in_a_thread(app) as url:
        command = [*COMMAND, str(path), "--base-url", url, "--concurrency", "8", "--json"]
        first = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=120)
        assert first.returncode == 3, first.stdout + first.stderr
        summary = json.loads(first.stdout)
        journal = the_default_journal()
        assert summary["reason"] == "credentials"
        assert "the API refused the credentials" in summary["message"]
        assert f"run the same command again to resume (journal: {journal})" in first.stderr
        shop = len(fake.customers)
        assert 100 <= shop < rows
        assert summary["created"] == shop  # the creates in flight at the 401 are counted
        key_change.restore()  # the user sets the new key and runs the same command again
        second = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    again = json.loads(second.stdout)
    assert (again["rows"], again["created"], again["resumed"]) == (rows, rows, shop)
    assert Counter(c.email for c in fake.customers) == emails(range(rows))
