"""The suite's own guards: a time limit per test and a memory ceiling per process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from memory_guard import limit_bytes

TESTS = Path(__file__).parent


def test_every_test_has_a_time_limit(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getini("timeout") == "60"
    assert pytestconfig.getini("timeout_method") == "thread"


def test_the_memory_ceiling_is_in_force() -> None:
    with pytest.raises(MemoryError):
        bytearray(limit_bytes())


def test_a_runaway_test_fails_alone_with_a_clear_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("ECOMCHARGE_TEST_MEMORY_MB", "1024")
    pytester.makepyfile(
        test_runaway=textwrap.dedent("""
            def test_greedy():
                assert bytearray(2 * 2**30)  # 2 GiB at once, over the 1 GiB ceiling

            def test_modest():
                assert len(bytearray(2**20)) == 2**20
            """)
    )
    result = pytester.runpytest_subprocess("-p", "memory_guard", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*memory guard*", "*test_greedy ran into the suite's memory ceiling of 1024 MiB*"]
    )


def test_a_hanging_test_is_stopped_by_the_time_limit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_hang=textwrap.dedent("""
            import threading

            def test_hangs():
                threading.Event().wait()
            """)
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-o", "timeout=1", "-o", "timeout_method=thread"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*Timeout*"])
