"""A memory ceiling for the test process, loaded by tests/conftest.py as a pytest plugin.

A runaway test (an endless body read whole, a decompression bomb inflated) then
fails by itself with MemoryError and a clear note, instead of eating the machine.
`ECOMCHARGE_TEST_MEMORY_MB` moves the ceiling (address space, not resident memory).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Generator

import pytest

DEFAULT_MB = 4096


def limit_bytes() -> int:
    """The ceiling in bytes: the environment's, else 4 GiB."""
    return int(os.environ.get("ECOMCHARGE_TEST_MEMORY_MB", DEFAULT_MB)) * 2**20


def pytest_configure(config: pytest.Config) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = limit_bytes() if hard == resource.RLIM_INFINITY else min(limit_bytes(), hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(MemoryError):
        report.sections.append(
            (
                "memory guard",
                f"{item.nodeid} ran into the suite's memory ceiling of "
                f"{limit_bytes() // 2**20} MiB (tests/memory_guard.py): it allocated "
                "without bound. Raise ECOMCHARGE_TEST_MEMORY_MB only if the test "
                "really needs more.",
            )
        )
    return report
