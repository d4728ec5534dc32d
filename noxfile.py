"""Quality gates: `nox` runs lint, type checks and the tests on every Python we support."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "mypy", "tests"]
nox.options.error_on_missing_interpreters = True

PYTHONS = ["3.11", "3.12", "3.13"]


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
