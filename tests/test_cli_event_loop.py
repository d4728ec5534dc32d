"""`ecomcharge import --event-loop`: uvloop where installed, asyncio's own loop on request."""

from __future__ import annotations

import asyncio
import csv
import re
import sys
from pathlib import Path

import pytest
import uvloop

from ecomcharge_async.cli import main


def write_csv(path: Path, count: int) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "ip", "first_name", "country", "state"])
        for n in range(count):
            writer.writerow([f"user{n}@example.com", f"10.2.0.{n + 1}", "Ann", "US", "CO"])
    return path


@pytest.fixture
def uvloops(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    """The uvloop loops made while the test runs."""
    made: list[asyncio.AbstractEventLoop] = []
    new_event_loop = uvloop.new_event_loop

    def counted() -> asyncio.AbstractEventLoop:
        made.append(new_event_loop())
        return made[-1]

    monkeypatch.setattr(uvloop, "new_event_loop", counted)
    return made


@pytest.mark.parametrize("choice", [None, "auto", "uvloop"])
def test_the_import_runs_on_uvloop_by_default(
    choice: str | None,
    uvloops: list[asyncio.AbstractEventLoop],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_csv(tmp_path / "rows.csv", 30)
    option = [] if choice is None else ["--event-loop", choice]
    assert main(["import", str(path), "--fake", *option]) == 0
    assert re.search(r"created\s+30\n", capsys.readouterr().out)
    assert len(uvloops) == 1
    assert isinstance(uvloops[0], uvloop.Loop)
    assert uvloops[0].is_closed()


def test_event_loop_asyncio_runs_on_the_standard_loop(
    uvloops: list[asyncio.AbstractEventLoop], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "rows.csv", 30)
    assert main(["import", str(path), "--fake", "--event-loop", "asyncio"]) == 0
    assert re.search(r"created\s+30\n", capsys.readouterr().out)
    assert uvloops == []


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as where it has no wheel: not importable
    path = write_csv(tmp_path / "rows.csv", 5)
    assert main(["import", str(path), "--fake"]) == 0
    assert re.search(r"created\s+5\n", capsys.readouterr().out)
    assert main(["import", str(path), "--fake", "--event-loop", "uvloop"]) == 2
    err = capsys.readouterr().err
    assert "--event-loop uvloop: uvloop is not installed" in err
