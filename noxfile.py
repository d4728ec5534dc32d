"""Quality gates: `nox` runs lint, type checks and the tests on every Python we support."""

from __future__ import annotations

import os
import shutil
import subprocess

import nox

nox.options.sessions = ["lint", "mypy", "tests"]

PYTHONS = ["3.11", "3.12", "3.13"]


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
    session.install("mypy", "-e", ".[test]")
    session.run("mypy", "--strict", "ecomcharge_async")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """pytest with warnings as errors and branch coverage."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "--cov=ecomcharge_async",
        "--cov-branch",
        "--cov-report=term-missing:skip-covered",
        *session.posargs,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite against raw aiohttp, bepaid and pydantic (not run by default).

    The peers are installed here only; they are not dependencies of the SDK.
    Extra arguments go to benchmarks/run.py, e.g. `nox -s bench -- --rounds 3`.
    """
    session.install("-e", ".", "bepaid==0.8.0", "pydantic>=2.10")
    session.run("python", "benchmarks/run.py", *session.posargs)
