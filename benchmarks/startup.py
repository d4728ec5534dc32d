"""What the SDK adds to start-up: `import ecomcharge_async`, and a pytest start with its plugin.

Every figure is taken in a fresh interpreter, the two sides taking turns, and
is CPU time (user + system): on a shared machine wall time mostly measures the
other processes; on a quiet one the two are close, imports being CPU-bound.

- **import**: `import aiohttp` alone against `import ecomcharge_async` and
  its `Client` (the package imports its names, and so aiohttp, on first use),
  timed inside the child around the statement, so the interpreter's own
  start-up is not in it.
- **pytest plugin**: a whole `python -m pytest` run of one trivial test that
  uses none of our fixtures, in an empty project, with the plugin loaded (as
  pytest does for any project that installs the package) against
  `-p no:ecomcharge`. Whatever other plugins are installed load in both.

The added milliseconds are the median of the differences taken turn by turn.
The package's bytecode is compiled first, as `pip install` does: from a
checkout with `PYTHONDONTWRITEBYTECODE` set (or a read-only one), every start
would otherwise compile our modules from source while aiohttp's were compiled
when it was installed.
"""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import summary

_TIMED_IMPORT = (
    "import time; t = time.process_time(); {statement}; print((time.process_time() - t) * 1000.0)"
)
#: What each side runs: what a program using the module does first.
_STATEMENTS = {
    "aiohttp": "import aiohttp",
    "ecomcharge_async": "import ecomcharge_async; ecomcharge_async.Client",
}
_TRIVIAL_TEST = "def test_nothing():\n    assert True\n"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def import_ms(module: str) -> float:
    """CPU milliseconds `import module` takes in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(statement=_STATEMENTS[module])],
        capture_output=True, text=True, check=True, env=_child_env(),
    )  # fmt: skip
    return float(done.stdout.strip())


def pytest_ms(project: Path, *, plugin: bool) -> float:
    """CPU milliseconds of one pytest run of a trivial test in `project`."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if not plugin:
        command += ["-p", "no:ecomcharge"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, cwd=project, capture_output=True, text=True, check=False, env=_child_env()
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    took = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000.0
    if done.returncode != 0:
        raise RuntimeError(f"pytest failed in the start-up benchmark:\n{done.stdout}{done.stderr}")
    return took


def pytest_missing() -> str | None:
    """Why the pytest start-up cannot be measured here, or None when it can."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        return "pytest is not installed (nox -s bench installs it)"
    return None


def _paired(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    return {
        "ours_ms": summary(ours),
        "theirs_ms": summary(theirs),
        "added_ms": summary([a - b for a, b in zip(ours, theirs, strict=True)]),
        "ratio": summary([a / b for a, b in zip(ours, theirs, strict=True)]),
    }


def compile_package() -> None:
    """Write the package's `.pyc` files, as installing it from a wheel does."""
    import ecomcharge_async

    compileall.compile_dir(Path(ecomcharge_async.__file__).parent, quiet=1)


def run(*, repeats: int) -> dict[str, Any]:
    """Both comparisons, `repeats` fresh processes per side, the sides taking turns."""
    compile_package()
    aiohttp_ms, ours_ms = [], []
    for i in range(repeats):
        pair = ("aiohttp", "ecomcharge_async") if i % 2 == 0 else ("ecomcharge_async", "aiohttp")
        times = {module: import_ms(module) for module in pair}
        aiohttp_ms.append(times["aiohttp"])
        ours_ms.append(times["ecomcharge_async"])
    results: dict[str, Any] = {"repeats": repeats, "import": _paired(ours_ms, aiohttp_ms)}
    results["import"]["vs"] = "import aiohttp"
    skipped = pytest_missing()
    if skipped is not None:
        results["skipped"] = {"pytest_plugin": skipped}
        return results
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "test_trivial.py").write_text(_TRIVIAL_TEST)
        if repeats > 1:
            pytest_ms(project, plugin=True)  # warm the OS file cache once
        with_plugin, without = [], []
        for i in range(repeats):
            order = (True, False) if i % 2 == 0 else (False, True)
            times = {plugin: pytest_ms(project, plugin=plugin) for plugin in order}
            with_plugin.append(times[True])
            without.append(times[False])
    results["pytest_plugin"] = _paired(with_plugin, without)
    results["pytest_plugin"]["vs"] = "pytest -p no:ecomcharge"
    results["skipped"] = {}
    return results
