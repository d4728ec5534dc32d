"""The `ecomcharge` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ecomcharge_async.cli import main


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
