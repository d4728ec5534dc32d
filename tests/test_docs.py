"""Every ```python block in README.md and docs/ runs as written, offline, so none can rot.

Each block runs in a fresh namespace, in a temporary working directory. A block
with top-level `await` runs in a fresh event loop; the others bring their own
`asyncio.run`. A block whose first line is `# test_<name>.py` is a pytest file:
it runs with pytest in a fresh project, as a user would run it. Blocks that
import httpx are left out when httpx (an optional extra) is not installed.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import re
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts),
]
HAVE_HTTPX = importlib.util.find_spec("httpx") is not None
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_PYTEST_FILE = re.compile(r"^# (test_\w+\.py)$")


@attrs.frozen
class Block:
    path: Path
    line: int  # 1-based line of the first code line
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def pytest_file(self) -> str | None:
        match = _PYTEST_FILE.match(self.code.partition("\n")[0])
        return match.group(1) if match else None

    @property
    def needs_httpx(self) -> bool:
        return re.search(r"^\s*(import httpx|from httpx )", self.code, re.MULTILINE) is not None


def python_blocks(path: Path) -> list[Block]:
    """The fenced blocks whose info string is exactly `python`, outside other fences."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i].strip())
        if opening is None:
            i += 1
            continue
        fence, info = opening["fence"], opening["info"].strip()
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        if info == "python":
            blocks.append(Block(path, i + 2, "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    return blocks


ALL_BLOCKS = [block for path in SOURCES for block in python_blocks(path)]
RUNNABLE = [b for b in ALL_BLOCKS if HAVE_HTTPX or not b.needs_httpx]


def test_the_docs_have_python_examples_to_run() -> None:
    names = {block.path.name for block in ALL_BLOCKS}
    assert {"README.md", "index.md", "quickstart.md", "concepts.md", "testing.md"} <= names


def test_the_extractor_finds_python_fences_only(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "```python",
            "x = 1",
            "```",
            "````markdown",
            "```python",
            "hidden = True",
            "```",
            "````",
            "```pycon",
            ">>> 1",
            "```",
            "```python",
            "y = 2",
            "```",
        ]
    )
    path = tmp_path / "probe.md"
    path.write_text(text, encoding="utf-8")
    found = [(block.line, block.code) for block in python_blocks(path)]
    assert found == [(2, "x = 1\n"), (13, "y = 2\n")]


@pytest.mark.parametrize(
    "block", [b for b in RUNNABLE if b.pytest_file is None], ids=lambda block: block.name
)
def test_python_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Pad with blank lines so a traceback points at the line in the Markdown file.
    source = "\n" * (block.line - 1) + block.code
    code = compile(
        source,
        str(block.path),
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )
    namespace: dict[str, object] = {"__name__": "__main__"}
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


@pytest.mark.parametrize(
    "block", [b for b in RUNNABLE if b.pytest_file], ids=lambda block: block.name
)
def test_pytest_file_block_passes(block: Block, pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    assert block.pytest_file is not None
    pytester.path.joinpath(block.pytest_file).write_text(block.code, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == block.code.count("\ndef test_") + block.code.count(
        "\nasync def test_"
    )
