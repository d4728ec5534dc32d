"""The `ecomcharge` command line: import exit codes, failures file, progress, crash and resume."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess

import ecomcharge_async as ec
from ecomcharge_async.cli import build_parser, import_command, main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "customers.csv"
EXAMPLE_REJECTED_LINES = [57, 181, 298, 404, 523, 677, 812, 950]


def write_csv(path: Path, count: int, *, start: int = 0) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "ip", "first_name", "country", "state"])
        for n in range(start, start + count):
            writer.writerow(
                [f"user{n}@example.com", f"10.1.{n // 250}.{n % 250 + 1}", "Ann", "US", "CO"]
            )
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_clean_file_imports_into_the_fake_with_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "ok.csv", 25)
    code, out, err = run(["import", str(path), "--fake"], capsys)
    assert code == 0
    assert "into the embedded fake shop 361" in out
    assert re.search(r"created\s+25\n", out)
    assert re.search(r"rejected\s+0\n", out)
    assert err == ""  # no progress bar when stderr is not a terminal


def test_the_example_file_shows_its_rejections_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failures = tmp_path / "failures.jsonl"
    code, out, _ = run(["import", str(EXAMPLE), "--fake", "--failures", str(failures)], capsys)
    assert code == 1
    assert re.search(r"rows read\s+1,000\n\s+created\s+992\n\s+rejected\s+8\n\s+failed\s+0", out)
    records = [json.loads(line) for line in failures.read_text().splitlines()]
    assert [r["line"] for r in records] == EXAMPLE_REJECTED_LINES
    assert all(r["status"] == "rejected" for r in records)
    by_line = {r["line"]: r for r in records}
    assert by_line[57]["errors"] == {"ip": ["address is invalid"]}
    assert by_line[57]["row"]["ip"] == "256.12.4.1"
    assert by_line[404]["errors"] == {"state": ["can't be blank"]}
    assert by_line[404]["message"] == "State can't be blank"


def test_a_malformed_line_is_reported_with_its_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('email,ip\na@example.com,10.0.0.1\nb@example.com,"10.0"x\nc@example.com\n')
    failures = tmp_path / "failures.jsonl"
    code, out, _ = run(["import", str(path), "--fake", "--failures", str(failures)], capsys)
    assert code == 1
    assert re.search(r"created\s+1\n\s+rejected\s+2\n", out)
    records = [json.loads(line) for line in failures.read_text().splitlines()]
    assert [(r["line"], r["message"], r["row"]) for r in records] == [
        (3, "malformed CSV: ',' expected after '\"'", None),
        (4, "has 1 fields but the header has 2", None),
    ]


def test_json_lines_are_sniffed_and_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.txt"
    path.write_text(
        '{"email": "a@example.com", "ip": "10.0.0.1"}\n{"email": "b@example.com", "ip": "x"}\n'
    )
    code, out, _ = run(["import", str(path), "--fake"], capsys)
    assert code == 1
    assert re.search(r"created\s+1\n\s+rejected\s+1\n", out)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "is empty: nothing to import"),
        ("email,ip,mail\na@example.com,10.0.0.1,x\n", "line 1: unknown column 'mail'"),
        ("email,first_name\n", "line 1: the header has no ip column"),
    ],
)
def test_unusable_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content)
    code, out, err = run(["import", str(path), "--fake"], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("ecomcharge import: error: ")
    assert problem in err
    assert "Traceback" not in err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["import", str(tmp_path / "nope.csv"), "--fake"], capsys)
    assert code == 2
    assert "cannot read" in err


def test_missing_credentials_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["import", str(write_csv(tmp_path / "a.csv", 1))], capsys)
    assert code == 2
    assert "set ECOMCHARGE_SHOP_ID" in err
    assert "or use --fake" in err


def test_a_journal_with_the_fake_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "a.csv", 1)
    code, _, err = run(["import", str(path), "--fake", "--journal", str(tmp_path / "j")], capsys)
    assert code == 2
    assert "--journal needs a shop that outlives the command" in err


@pytest.mark.parametrize("option", ["--journal", "--failures"])
def test_writing_over_the_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    path = write_csv(tmp_path / "a.csv", 3)
    before = path.read_text()
    code, _, err = run(
        ["import", str(path), "--base-url", "http://127.0.0.1:9", option, str(path)], capsys
    )
    assert code == 2
    assert f"{option} {path} is the input file" in err
    assert path.read_text() == before


@pytest.mark.parametrize(
    "args",
    [["--concurrency", "0"], ["--rate", "-1"], ["--rate", "fast"], ["--fake", "--base-url", "x"]],
)
def test_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["import", str(tmp_path / "a.csv"), *args])
    assert excinfo.value.code == 2
    assert "error:" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_progress_bar_is_drawn(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 40)
    args = build_parser().parse_args(["import", str(path), "--fake"])
    out, err = io.StringIO(), Terminal()
    assert import_command(args, stdout=out, stderr=err) == 0
    final = err.getvalue().split("\r")[-1]
    assert final.startswith("  40/40 [########################] 100%")
    assert "rows/s  ETA 0:00:00" in final
    assert final.endswith("\n")


def test_a_run_that_fails_to_start_leaves_no_file_open(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 3)
    failures = tmp_path / "failures.jsonl"
    args = build_parser().parse_args(["import", str(path), "--fake", "--failures", str(failures)])
    err = io.StringIO()
    err.close()  # progress cannot go there: found out after the failures file is open
    with pytest.raises(ValueError, match="closed file"):
        import_command(args, stdout=io.StringIO(), stderr=err)
    opened = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            opened.add(os.readlink(f"/proc/self/fd/{fd}"))
    assert os.path.realpath(failures) not in opened


def test_demo_walks_through_create_reject_get_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "created cst_" in out
    assert "rejected with 422: Ip address is invalid. Ip can't be blank" in out
    assert "ip: address is invalid, can't be blank" in out
    assert "The shop holds 1 customer(s)" in out


def test_python_dash_m_runs_the_cli() -> None:
    # A real `python -m`: in process, runpy cannot run a package pytest assert-rewrites
    # (pytest-dev/pytest#9007), and the package is rewritten because it ships a pytest plugin.
    result = subprocess.run(
        [sys.executable, "-m", "ecomcharge_async", "demo"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "The shop holds 1 customer(s)" in result.stdout


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    missing = "the following arguments are required: command"
    assert err == f"ecomcharge: error: {missing} (see ecomcharge --help)\n"


# -- over real HTTP, in child processes -----------------------------------------------------


def cli_env(secret: str = "k") -> dict[str, str]:
    """The child's environment: test credentials, and the test's own state folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMCHARGE_")}
    state = os.environ["ECOMCHARGE_STATE_DIR"]
    return {
        **env,
        "ECOMCHARGE_SHOP_ID": "361",
        "ECOMCHARGE_SECRET_KEY": secret,
        "ECOMCHARGE_STATE_DIR": state,
    }


def test_python_dash_m_imports_over_http(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "a.csv", 30)
    result = subprocess.run(
        [sys.executable, "-m", "ecomcharge_async", "import", str(path), "--base-url", server.url],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"into shop 361 at {server.url}" in result.stdout


def sigint_as_on_a_terminal() -> None:
    """For a child: a run started in the background (`nox &`, CI) ignores SIGINT, and
    its children inherit that; a Ctrl-C test needs the handling a terminal gives."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition: Callable[[], bool], what: str, *, within: float = 60) -> None:
    """Poll `condition` until it holds, for `within` seconds at most."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def done_records(journal: Path) -> int:
    return journal.read_text().count('"done"') if journal.exists() else 0


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGINT, 130, "interrupted by SIGINT"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_a_signal_stops_the_import_cleanly_and_a_rerun_finishes_it_exactly_once(
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
    signum: signal.Signals,
    code: int,
    said: str,
) -> None:
    server = start_server("--secret-key", "k", "--latency", "0.05")
    rows = 400
    path = write_csv(tmp_path / "a.csv", rows)
    journal = tmp_path / "j.jsonl"
    command = [
        *(sys.executable, "-m", "ecomcharge_async", "import", str(path)),
        *("--base-url", server.url, "--journal", str(journal), "--concurrency", "8"),
    ]
    process = subprocess.Popen(
        command,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_on_a_terminal,
    )

    def paused_at_20_done() -> bool:
        """Stop the server, then look: once 20 rows are done, no more can finish."""
        server.process.send_signal(signal.SIGSTOP)
        if done_records(journal) >= 20:
            return True
        server.process.send_signal(signal.SIGCONT)
        return process.poll() is not None

    try:
        wait_for(paused_at_20_done, "20 rows done")
        assert process.poll() is None, "the import ended before the signal"
        process.send_signal(signum)
        # The rows in flight may finish now: the import stops on the signal, however
        # slowly this test runs.
        server.process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=60)
    finally:
        server.process.send_signal(signal.SIGCONT)
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert f"{signum.name}: taking no more rows; finishing the rows in flight" in err
    hint = f"run the same command again to resume (journal: {journal})"
    assert f"ecomcharge import: {said}; {hint}" in err
    assert out.startswith(f"Stopped ({said}) importing")
    text = journal.read_text()
    sent = set(map(int, re.findall(r'"sent":(\d+)', text)))
    done = set(map(int, re.findall(r'"done":(\d+)', text)))
    assert sent == done, "every row in flight was let finish"
    assert len(done) < rows

    second = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert re.search(rf"created\s+{rows:,}\n", second.stdout)
    held = Counter(c.email for c in asyncio.run(list_with_retries(server.url)))
    assert held == Counter(f"user{n}@example.com" for n in range(rows))


def test_a_second_signal_stops_at_once(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k", "--latency", "5")
    path = write_csv(tmp_path / "a.csv", 50)
    journal = tmp_path / "j.jsonl"
    command = [
        *(sys.executable, "-m", "ecomcharge_async", "import", str(path)),
        *("--base-url", server.url, "--journal", str(journal), "--grace", "600"),
    ]
    process = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    try:
        wait_for(lambda: '"sent"' in journal.read_text() if journal.exists() else False, "a send")
        process.send_signal(signal.SIGTERM)
        ready, _, _ = select.select([process.stderr], [], [], 60)
        assert ready, "no word on stderr within 60 s of SIGTERM"
        first = process.stderr.readline()  # the stop was taken: now the second signal
        assert first.startswith("ecomcharge import: SIGTERM: taking no more rows"), first
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert out.startswith("Stopped (stopped by SIGTERM) importing")
    # Aborted mid-request (each takes 5 s): rows journaled as sent, none done. A rerun
    # reconciles them before sending anything again.
    text = journal.read_text()
    assert '"sent"' in text
    assert '"done"' not in text


# Ten CLI processes, ~8 s of CPU: several times the 60 s default on a busy machine.
@pytest.mark.timeout(300)
def test_a_closed_pipe_ends_quietly_for_every_subcommand(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 2000)
    commands = [
        ["demo"],
        ["import", str(path), "--fake"],  # every row created: 0 unless the pipe broke
        ["import", str(path), "--fake", "--json"],
        ["--help"],
        ["import", "--help"],
    ]
    for args, lines in itertools.product(commands, (0, 1)):
        process = subprocess.Popen(
            [sys.executable, "-m", "ecomcharge_async", *args],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        for _ in range(lines):
            process.stdout.readline()
        process.stdout.close()  # as `| head -1` (or `| head -0`) would
        err = process.stderr.read().decode()
        code = process.wait(timeout=60)
        process.stderr.close()
        assert code in (0, 141), (args, code, err)
        assert err == "", (args, err)


def test_a_resumed_run_keeps_the_failures_of_the_first(
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = start_server("--secret-key", "k")
    monkeypatch.setenv("ECOMCHARGE_SHOP_ID", "361")
    monkeypatch.setenv("ECOMCHARGE_SECRET_KEY", "k")
    path = tmp_path / "in.csv"
    path.write_text("email,ip\na@example.com,10.0.0.1\nb@example.com,not-an-ip\n")
    failures = tmp_path / "failures.jsonl"
    args = ["import", str(path), "--base-url", server.url, "--journal", str(tmp_path / "j")]
    args += ["--failures", str(failures)]
    first = run(args, capsys)
    second = run(args, capsys)
    assert (first[0], second[0]) == (1, 1)  # the re-run ends as the import did
    assert second[1] == (
        "all 2 rows were imported by an earlier run (1 created, 1 rejected); "
        f"journal: {tmp_path / 'j'}\n"
    )
    assert [json.loads(line)["line"] for line in failures.read_text().splitlines()] == [3]


def test_wrong_credentials_stop_at_once_with_exit_3(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "a.csv", 500)
    failures = tmp_path / "failures.jsonl"
    result = cli(
        *("import", str(path), "--base-url", server.url, "--failures", str(failures)),
        *("--concurrency", "4"),
        env=cli_env("not-the-key"),
    )
    line = one_line_error(result, 3)
    assert line.startswith("ecomcharge import: the API refused the credentials")
    assert "not-the-key" not in result.stdout + result.stderr
    assert "Stopped (the API refused the credentials)" in result.stdout
    assert failures.read_text() == ""  # not one rejected row per input line
    assert len(asyncio.run(list_with_retries(server.url))) == 0


async def list_with_retries(url: str) -> list[ec.Customer]:
    async with ec.Client("361", "k", base_url=url, retry=None) as client:
        for _ in range(50):
            try:
                return await client.customers.list()
            except ec.EcomChargeError:
                continue
    raise AssertionError("the list never came through the injected faults")


def test_an_import_killed_mid_run_resumes_from_its_journal_exactly_once(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(
        *("--secret-key", "k", "--latency", "0.02", "--seed", "9"),
        *("--fault-rate", "0.1", "--faults", "drop,refuse,500,502,504"),
    )
    rows = 1500
    path = write_csv(tmp_path / "customers.csv", rows)
    journal = tmp_path / "import.journal"
    command = [
        *(sys.executable, "-m", "ecomcharge_async", "import", str(path)),
        *("--base-url", server.url, "--journal", str(journal), "--concurrency", "16"),
    ]
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(command, env=cli_env(), stdout=log, stderr=log)

    def paused_at_300_done() -> bool:
        """Stop the server, then look: once 300 rows are done, nothing more can finish."""
        server.process.send_signal(signal.SIGSTOP)
        if journal.exists() and journal.read_text().count('"done"') >= 300:
            return True
        server.process.send_signal(signal.SIGCONT)
        return first.poll() is not None

    try:
        wait_for(paused_at_300_done, "300 rows done")
        assert first.poll() is None, "the import ended before it could be killed"
        first.kill()
        assert first.wait(timeout=30) == -9
    finally:
        server.process.send_signal(signal.SIGCONT)
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
        log.close()
    text = journal.read_text()
    sent = set(map(int, re.findall(r'"sent":(\d+)', text)))
    done = set(map(int, re.findall(r'"done":(\d+)', text)))
    assert 300 <= len(done) < rows
    assert sent - done, "rows in flight at the kill are journaled as sent, not done"

    second = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert re.search(rf"created\s+{rows:,}\n", second.stdout)
    held = Counter(c.email for c in asyncio.run(list_with_retries(server.url)))
    assert held == Counter(f"user{n}@example.com" for n in range(rows))


def test_three_sharded_processes_import_every_row_exactly_once(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(
        *("--secret-key", "k", "--latency", "0.005", "--seed", "3"),
        *("--fault-rate", "0.05", "--faults", "drop,refuse,503"),
    )
    rows = 900
    path = write_csv(tmp_path / "customers.csv", rows)
    workers = []
    for k in range(3):
        command = [
            *(sys.executable, "-m", "ecomcharge_async", "import", str(path)),
            *("--base-url", server.url, "--shard", "JOB_COMPLETION_INDEX/3"),
            *("--journal", str(tmp_path / "import-{shard}.journal")),
        ]
        env = {**cli_env(), "JOB_COMPLETION_INDEX": str(k)}
        workers.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    try:
        outputs = [worker.communicate(timeout=300)[0].decode() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)
    for k, (worker, output) in enumerate(zip(workers, outputs, strict=True)):
        assert worker.returncode == 0, output
        assert f"(shard {k}/3)" in output
        assert re.search(r"created\s+300\n", output), output
        assert (tmp_path / f"import-{k}.journal").exists()
    held = Counter(c.email for c in asyncio.run(list_with_retries(server.url)))
    assert held == Counter(f"user{n}@example.com" for n in range(rows))


def test_a_shard_of_the_example_into_the_fake(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
    code, out, _ = run(
        ["import", str(EXAMPLE), "--fake", "--shard", "JOB_COMPLETION_INDEX/4"], capsys
    )
    # Shard 1 of 4 takes lines 5, 9, ... 997: 250 of the 1,000 data lines (2 to 1001).
    rejected = sum(1 for line in EXAMPLE_REJECTED_LINES if line % 4 == 1)
    assert code == 1
    assert "(shard 1/4)" in out
    assert re.search(r"rows read\s+250\n", out)
    assert re.search(rf"rejected\s+{rejected}\n", out)


@pytest.mark.parametrize(
    ("shard", "message"),
    [("3/3", "0 <= k < n"), ("x", "must look like k/n"), ("JOB_COMPLETION_INDEX/2", "not set")],
)
def test_a_bad_shard_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shard: str, message: str
) -> None:
    path = write_csv(tmp_path / "a.csv", 1)
    with pytest.raises(SystemExit) as info:
        main(["import", str(path), "--fake", "--shard", shard])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


# -- configuration that must not hurt (the real CLI, in a child process) --------------------


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m ecomcharge_async ARGS` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ecomcharge_async", *args],
        env=env if env is not None else cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The single stderr line of a run that ended with `code` and printed nothing else."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "content",
    [
        b'{"theme": "dark", "size": 12}',  # the user's own JSON, no final newline (json.dump)
        b"garbage",
        b'{"theme": "dark"}\n{"size": 12}\n',
    ],
)
def test_a_journal_path_holding_another_file_is_refused_untouched(
    tmp_path: Path, content: bytes
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(content)
    path = write_csv(tmp_path / "a.csv", 3)
    result = cli(
        "import", str(path), "--base-url", "http://127.0.0.1:9", "--journal", str(settings)
    )
    line = one_line_error(result)
    assert line.startswith(f"ecomcharge import: error: --journal {settings} line 1: ")
    assert "not an ecomcharge bulk-import journal" in line
    assert settings.read_bytes() == content


def test_a_journal_with_a_damaged_header_sends_nothing_again(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "a.csv", 20)
    journal = tmp_path / "j.jsonl"
    command = ["import", str(path), "--base-url", server.url, "--journal", str(journal)]
    assert cli(*command).returncode == 0
    assert len(asyncio.run(list_with_retries(server.url))) == 20
    header, rest = journal.read_bytes().split(b"\n", 1)
    journal.write_bytes(header[:30] + b"\n" + rest)  # the header cut short, records kept
    damaged = journal.read_bytes()
    line = one_line_error(cli(*command))
    assert f"--journal {journal} line 1: not valid JSON" in line
    assert journal.read_bytes() == damaged
    assert len(asyncio.run(list_with_retries(server.url))) == 20


def test_the_journal_and_the_failures_file_must_differ(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 3)
    same = tmp_path / "x.jsonl"
    result = cli(
        *("import", str(path), "--base-url", "http://127.0.0.1:9"),
        *("--journal", str(same), "--failures", str(tmp_path / "." / "x.jsonl")),
    )
    line = one_line_error(result)
    assert "is the --journal file; choose another path" in line
    assert not same.exists()


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 5)
    line = one_line_error(cli("import", str(path), "--fake", "--concurrency", "100000000"))
    assert "--concurrency: must be at most 1,000, got 100,000,000" in line
    result = cli("import", str(path), "--fake", "--concurrency", "1000")
    assert result.returncode == 0, result.stderr
    assert re.search(r"created\s+5\n", result.stdout)


@pytest.mark.parametrize(
    ("base_url", "secret", "problem"),
    [
        ("http://example.com", "k", "refusing plain http:// to example.com"),
        ("ftp://x", "k", "base_url must be an http(s) URL with a host"),
        ("http://127.0.0.1:99999", "k", "base_url has an invalid port"),
        ("http://127.0.0.1:9", "k\nx", "secret_key contains control or non-printable"),
    ],
)
def test_a_bad_configuration_is_one_line_and_exit_2(
    tmp_path: Path, base_url: str, secret: str, problem: str
) -> None:
    path = write_csv(tmp_path / "a.csv", 3)
    line = one_line_error(cli("import", str(path), "--base-url", base_url, env=cli_env(secret)))
    assert line.startswith("ecomcharge import: error: ")
    assert problem in line
    assert "k\nx" not in line


@pytest.mark.parametrize("option", ["--journal", "--failures"])
def test_an_unwritable_path_names_its_option(tmp_path: Path, option: str) -> None:
    path = write_csv(tmp_path / "a.csv", 3)
    where = tmp_path / "no-such-dir" / "file.jsonl"
    line = one_line_error(
        cli("import", str(path), "--base-url", "http://127.0.0.1:9", option, str(where))
    )
    assert f"error: {option} {where}: No such file or directory" in line


def test_dash_reads_the_rows_from_stdin_once() -> None:
    rows = "email,ip\n" + "".join(f"s{n}@example.com,10.0.0.{n + 1}\n" for n in range(7))
    result = cli("import", "-", "--fake", stdin=rows)
    assert result.returncode == 0, result.stderr
    assert "Imported stdin into the embedded fake shop" in result.stdout
    assert re.search(r"created\s+7\n", result.stdout)
    jsonl = cli(
        "import", "/dev/stdin", "--fake", stdin='{"email": "j@example.com", "ip": "10.0.0.1"}\n'
    )
    assert jsonl.returncode == 0, jsonl.stderr
    assert re.search(r"created\s+1\n", jsonl.stdout)


def test_a_named_pipe_is_read_once(tmp_path: Path) -> None:
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "ecomcharge_async", "import", str(fifo), "--fake"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with fifo.open("w") as writer:  # opens once the importer opened its end
            writer.write(
                "email,ip\n" + "".join(f"p{n}@example.com,10.0.0.{n + 1}\n" for n in range(4))
            )
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert re.search(r"created\s+4\n", out)


@contextlib.contextmanager
def _importing(path: str, *options: str) -> Iterator[subprocess.Popen[str]]:
    """`ecomcharge import PATH --fake OPTIONS`, its stdin a pipe the test writes and keeps open."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ecomcharge_async", "import", path, "--fake", *options],
        env=cli_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_on_a_terminal,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def _interrupted(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT, then stdout and stderr: stdin is still open, so the signal alone ends it."""
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=30)


def test_a_quiet_stdin_keeps_the_progress_going_and_a_signal_stops_the_import(
    tmp_path: Path,
) -> None:
    failures = tmp_path / "failures.jsonl"
    options = ("--failures", str(failures), "--progress-every", "0.05")
    with _importing("-", *options) as process:
        assert process.stdin is not None
        assert process.stderr is not None
        process.stdin.write(
            "email,ip\nq1@example.com,10.0.0.1\nnot,a,row\nq2@example.com,10.0.0.2\n"
        )
        process.stdin.flush()  # then nothing more, and the pipe stays open
        # Progress lines go on while the import waits for input (its loop is not frozen).
        line = ""
        while not line.startswith("progress: 3 rows done"):
            ready, _, _ = select.select([process.stderr], [], [], 30)
            assert ready, f"no progress line within 30 s of the last: {line!r}"
            line = process.stderr.readline()
            assert line, "stderr closed before the rows were done"
        out, err = _interrupted(process)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "SIGINT: taking no more rows" in err
    assert out.startswith("Stopped (interrupted by SIGINT) importing stdin")
    assert re.search(r"created\s+2\n", out)
    assert re.search(r"rejected\s+1\n", out)
    (failure,) = map(json.loads, failures.read_text().splitlines())
    assert (failure["line"], failure["status"]) == (3, "rejected")


def test_a_signal_while_waiting_for_the_first_line_exits_130_quietly(tmp_path: Path) -> None:
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    # The FIFO opens once the importer opened its end; it then reads, and waits.
    with _importing(str(fifo), "--json") as process, fifo.open("w"):
        out, err = _interrupted(process)  # the pipe stays open and empty
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted by SIGINT before the first row arrived" in err
    summary = json.loads(out)
    assert (summary["exit_status"], summary["reason"]) == (130, "SIGINT")


def test_empty_stdin_exits_2() -> None:
    line = one_line_error(cli("import", "-", "--fake", stdin=""))
    assert "stdin is empty: nothing to import" in line


# -- failing fast when the API cannot be reached ---------------------------------------------


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback listener whose backlog is full: new connections never complete."""
    with socket.socket() as listener, contextlib.ExitStack() as fillers:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(64):  # fill the accept queue until a connect hangs (bounded)
            filler = fillers.enter_context(socket.socket())
            filler.settimeout(0.5)
            try:
                filler.connect(address)
            except TimeoutError:
                break
        else:
            raise AssertionError("the listener's backlog never filled")
        yield f"http://127.0.0.1:{address[1]}"


@pytest.mark.parametrize(
    ("url_fixture", "cause"),
    [("refused_url", "connection refused"), ("silent_url", "connect timed out")],
)
def test_an_unreachable_api_stops_the_import_within_the_deadline(
    request: pytest.FixtureRequest, tmp_path: Path, url_fixture: str, cause: str
) -> None:
    url = request.getfixturevalue(url_fixture)
    path = write_csv(tmp_path / "a.csv", 200)
    journal = tmp_path / "j.jsonl"
    started = time.monotonic()
    result = cli(
        *("import", str(path), "--base-url", url, "--journal", str(journal)),
        *("--connect-deadline", "2"),
        timeout=60,
    )
    took = time.monotonic() - started
    line = one_line_error(result, 3)
    assert re.fullmatch(
        rf"ecomcharge import: cannot reach {re.escape(url)}: {cause} "
        r"\(after \d+ attempts? in \d+ s\); "  # 2 s, more on a busy machine
        rf"run the same command again to resume \(journal: {re.escape(str(journal))}\)",
        line,
    ), line
    assert took < 2 + 15  # the deadline, plus the interpreter's start and stop
    assert "Stopped (the API could not be reached)" in result.stdout
    # The journal stays usable: a rerun against the same API stops the same way.
    assert (
        cli(
            *("import", str(path), "--base-url", url, "--journal", str(journal)),
            "--connect-deadline",
            "1",
        ).returncode
        == 3
    )


# -- progress when stderr is not a terminal ---------------------------------------------------


def test_off_a_terminal_progress_lines_are_printed_and_quiet_silences_them(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k", "--latency", "0.1")
    path = write_csv(tmp_path / "a.csv", 20)
    command = ["import", str(path), "--base-url", server.url, "--concurrency", "2"]
    command.append("--no-journal")  # the second run sends every row again
    result = cli(*command, "--progress-every", "0.2")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) >= 2, result.stderr
    for line in lines:
        assert re.fullmatch(
            r"progress: \d+/20 rows done \(\d+%\): \d+ created, 0 rejected, 0 failed; "
            r"\d+ rows/s, ETA (\d+:\d\d:\d\d|-:--:--), concurrency 2",
            line,
        ), line
    quiet = cli(*command, "--progress-every", "0.2", "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert re.search(r"created\s+20\n", quiet.stdout)


# -- the machine-readable summary -------------------------------------------------------------


def test_json_prints_the_summary_as_one_object_and_nothing_else(tmp_path: Path) -> None:
    failures = tmp_path / "failures.jsonl"
    result = cli("import", str(EXAMPLE), "--fake", "--json", "--failures", str(failures))
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert summary["exit_status"] == 1
    assert summary["reason"] == "rows rejected or failed"
    assert (summary["rows"], summary["created"], summary["rejected"], summary["failed"]) == (
        1000,
        992,
        8,
        0,
    )
    assert summary["elapsed_seconds"] > 0
    assert summary["rows_per_second"] > 0
    assert summary["failures"] == str(failures)
    assert summary["journal"] is None
    assert summary["message"] is None


def test_json_reports_a_usage_error_too(tmp_path: Path) -> None:
    result = cli("import", str(tmp_path / "missing.csv"), "--fake", "--json")
    assert result.returncode == 2
    summary = json.loads(result.stdout)
    assert summary["exit_status"] == 2
    assert summary["reason"] == "usage"
    assert "cannot read" in summary["message"]
    assert summary["rows"] == 0


def test_json_reports_an_unreachable_api(refused_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 10)
    result = cli(
        "import", str(path), "--base-url", refused_url, "--connect-deadline", "0.5", "--json"
    )
    assert result.returncode == 3
    summary = json.loads(result.stdout)
    assert (summary["exit_status"], summary["reason"]) == (3, "unreachable")
    assert summary["message"].startswith(f"cannot reach {refused_url}: connection refused")


# -- the usual switches ------------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"ecomcharge {ec.__version__}\n"


def test_verbose_json_logs_carry_fields_and_no_secret_or_customer_value(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(
        *("--secret-key", "sekrit-key-value", "--seed", "5"),
        *("--fault-rate", "0.3", "--faults", "503"),
    )
    path = write_csv(tmp_path / "a.csv", 30)
    result = cli(
        *("-vv", "import", str(path), "--base-url", server.url, "--log-format", "json"),
        env=cli_env("sekrit-key-value"),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    levels = Counter(record["level"] for record in records)
    assert levels["debug"] >= 30
    assert levels["info"] >= 1  # the 503s paused the import
    (named,) = [r for r in records if r["message"].startswith("journal: ")]  # -v names it
    assert named["message"].endswith(".journal")
    for record in records:
        assert record["logger"].startswith("ecomcharge_async")
        if record is not named:
            assert {"operation", "status", "attempt"} <= record.keys(), record
    debug = next(r for r in records if r["level"] == "debug" and r["status"] == 201)
    assert (debug["method"], debug["path"], debug["attempt"]) == ("POST", "/customers", 1)
    assert debug["operation"] == "customers.create"
    paused = next(r for r in records if r["level"] == "info" and r.get("status") == 503)
    assert paused["operation"] == "customers.create"
    assert paused["line"] >= 2
    assert "method" not in paused  # a row's record names the call, not its HTTP parts
    assert debug["elapsed_ms"] >= 0
    assert "request_id" in debug
    assert "sekrit" not in result.stderr
    assert "@example.com" not in result.stderr
    assert "10.1.0" not in result.stderr


def test_ecomcharge_log_turns_the_library_logs_on_in_any_program() -> None:
    program = """
import asyncio
import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge

async def main():
    fake = FakeEcomCharge(shop_id="361", secret_key="s")
    async with ec.Client("361", "s", transport=fake.transport()) as client:
        await client.customers.create(ec.NewCustomer(email="ann@example.com", ip="10.0.0.1"))

asyncio.run(main())
"""
    env = {**cli_env(), "ECOMCHARGE_LOG": "debug"}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    assert "DEBUG ecomcharge_async: POST /customers -> 201 (attempt 1," in line
    assert re.search(r"method=POST path=/customers status=201 attempt=1 elapsed_ms=[\d.]+", line)
    assert "ann@example.com" not in line
    quiet = subprocess.run(
        [sys.executable, "-c", program], env=cli_env(), capture_output=True, text=True, timeout=60
    )
    assert quiet.stderr == ""


def test_log_format_json_applies_to_the_logs_ecomcharge_log_turned_on(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 3)
    env = {**cli_env(), "ECOMCHARGE_LOG": "debug"}
    result = cli("import", str(path), "--fake", "--log-format", "json", env=env)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(r["level"], r["method"], r["status"]) for r in records] == [("debug", "POST", 201)] * 3


def test_after_an_unreachable_stop_the_journal_resumes_once_the_api_is_up(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    with socket.socket() as sock:  # bound, never listening: refused, and the port stays ours
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        path = write_csv(tmp_path / "a.csv", 60)
        journal = tmp_path / "j.jsonl"
        command = ["import", str(path), "--base-url", url, "--journal", str(journal)]
        stopped = cli(*command, "--connect-deadline", "1")
        assert stopped.returncode == 3, stopped.stderr
    server = start_server("--secret-key", "k", "--port", str(port))
    assert server.url == url
    resumed = cli(*command)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    held = Counter(c.email for c in asyncio.run(list_with_retries(url)))
    assert held == Counter(f"user{n}@example.com" for n in range(60))
