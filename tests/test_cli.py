"""The `ecomcharge` command line."""

from __future__ import annotations

import runpy
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


def test_python_dash_m_runs_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m ecomcharge_async", "demo"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("ecomcharge_async", run_name="__main__")
    assert info.value.code == 0
    assert "The shop holds 1 customer(s)" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: ecomcharge" in capsys.readouterr().err
