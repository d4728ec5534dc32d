"""`ecomcharge import --concurrency auto|N --max-concurrency N`, through the real CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from conftest import ServerProcess
from test_cli import cli, one_line_error, write_csv


def test_auto_is_the_default_and_progress_and_json_show_the_concurrency(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("--secret-key", "k", "--latency", "0.05")
    path = write_csv(tmp_path / "a.csv", 400)
    result = cli(
        *("import", str(path), "--base-url", server.url, "--no-journal"),
        *("--progress-every", "0.1", "--json"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["created"] == 400
    # Started at 8 and grew while the answers came back in time; never past 256.
    assert 8 < summary["concurrency"] <= 256
    lines = result.stderr.splitlines()
    assert lines, result.stderr
    for line in lines:
        shown = re.fullmatch(r"progress: .*; \d+ rows/s, ETA [-:\d]+, concurrency (\d+)", line)
        assert shown is not None, line
        assert 1 <= int(shown[1]) <= 256


def test_max_concurrency_bounds_auto(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 300)
    # Below where `auto` starts (8), so that the bound shows however fast the fake is.
    result = cli("import", str(path), "--fake", "--max-concurrency", "5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["created"], summary["concurrency"]) == (300, 5)
    table = cli("import", str(path), "--fake", "--concurrency", "auto", "--max-concurrency", "3")
    assert re.search(r"rows/s, concurrency 3\n", table.stdout), table.stdout


def test_a_number_fixes_the_concurrency(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 50)
    summary = json.loads(cli("import", str(path), "--fake", "--concurrency", "3", "--json").stdout)
    assert (summary["created"], summary["concurrency"]) == (50, 3)


def test_max_concurrency_with_a_fixed_number_is_a_usage_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 5)
    command = ("import", str(path), "--fake", "--concurrency", "4", "--max-concurrency", "10")
    line = one_line_error(cli(*command))
    assert line == (
        "ecomcharge import: error: --max-concurrency bounds --concurrency auto; with a "
        "number, --concurrency alone sets the requests in flight"
    )


def test_concurrency_is_auto_or_a_number(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 5)
    line = one_line_error(cli("import", str(path), "--fake", "--concurrency", "fast"))
    assert "argument --concurrency: must be auto or a whole number, got 'fast'" in line
    line = one_line_error(cli("import", str(path), "--fake", "--max-concurrency", "auto"))
    assert "argument --max-concurrency: not a whole number: 'auto'" in line
