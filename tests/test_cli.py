"""The `ecomcharge` command line: import exit codes, failures file, progress, crash and resume."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ServerProcess, wait_for

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
    assert "usage: ecomcharge" in capsys.readouterr().err


# -- over real HTTP, in child processes -----------------------------------------------------


def cli_env(secret: str = "k") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMCHARGE_")}
    return {**env, "ECOMCHARGE_SHOP_ID": "361", "ECOMCHARGE_SECRET_KEY": secret}


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


def test_ctrl_c_stops_the_import_with_exit_130_and_a_hint(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k")
    path = write_csv(tmp_path / "a.csv", 50)
    journal = tmp_path / "j.jsonl"
    command = [
        *(sys.executable, "-m", "ecomcharge_async", "import", str(path)),
        *("--base-url", server.url, "--journal", str(journal)),
    ]
    # A stopped server answers nothing: the import cannot end before the Ctrl-C, however
    # slowly this test runs.
    server.process.send_signal(signal.SIGSTOP)
    process = subprocess.Popen(
        command,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A run started in the background (`nox &`, CI) ignores SIGINT, and its children
        # inherit that: give the import the Ctrl-C handling of a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_for(lambda: '"sent"' in (journal.read_text() if journal.exists() else ""))
        assert process.poll() is None, "the import ended before the Ctrl-C"
        process.send_signal(signal.SIGINT)
        # The answers may come now: the import stops on the Ctrl-C, not on a dead server.
        server.process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=60)
    finally:
        server.process.send_signal(signal.SIGCONT)
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted; run again with the same --journal to finish" in err
    assert "Traceback" not in err
    assert out == ""


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
    assert (first[0], second[0]) == (1, 1)
    assert "2 row(s) were finished by an earlier run (journal)" in second[1]
    assert [json.loads(line)["line"] for line in failures.read_text().splitlines()] == [3]


def test_wrong_credentials_exit_2(
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = start_server("--secret-key", "k")
    monkeypatch.setenv("ECOMCHARGE_SHOP_ID", "361")
    monkeypatch.setenv("ECOMCHARGE_SECRET_KEY", "not-the-key")
    path = write_csv(tmp_path / "a.csv", 5)
    code, _, err = run(["import", str(path), "--base-url", server.url], capsys)
    assert code == 2
    assert "the API refused the credentials" in err
    assert "not-the-key" not in err


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
        wait_for(paused_at_300_done)
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
