"""CI runs what the README tells a new user to run, and nothing more."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("Whole test suite", 1)[1]
    [command] = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)[:1]
    return command


def ci_commands() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert ci_commands() == [readme_test_command()]


def test_the_command_installs_what_nox_uses() -> None:
    # noxfile.py creates its environments with uv: the command must bring it.
    assert re.search(r"pip install nox uv &&", readme_test_command())
