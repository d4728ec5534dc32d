"""The command lines' argument types: what each accepts, and the message for what it refuses."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from ecomcharge_async._argtypes import (
    fraction,
    positive_float,
    positive_int,
    seconds,
    seconds_or_zero,
)
from ecomcharge_async.cli import build_parser


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (positive_int, "1", 1),
        (positive_int, "16", 16),
        (positive_float, "0.5", 0.5),
        (positive_float, "1e3", 1000.0),
        (seconds, "0.5", 0.5),
        (seconds, "30", 30.0),
        (seconds_or_zero, "0", 0.0),
        (seconds_or_zero, "0.05", 0.05),
        (fraction, "0", 0.0),
        (fraction, "1", 1.0),
        (fraction, "0.25", 0.25),
    ],
)
def test_accepts(parse: Callable[[str], float], text: str, value: float) -> None:
    assert parse(text) == value
    assert type(parse(text)) is type(value)


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (positive_int, "0", "must be at least 1, got 0"),
        (positive_int, "-3", "must be at least 1, got -3"),
        (positive_int, "1.5", "not a whole number: '1.5'"),
        (positive_int, "many", "not a whole number: 'many'"),
        (positive_float, "0", "must be a positive number, got 0"),
        (positive_float, "-1", "must be a positive number, got -1"),
        (positive_float, "nan", "must be a positive number, got nan"),
        (positive_float, "inf", "must be a positive number, got inf"),
        (positive_float, "fast", "not a number: 'fast'"),
        (seconds, "0", "must be a finite number of seconds > 0, got 0"),
        (seconds, "-1", "must be a finite number of seconds > 0, got -1"),
        (seconds, "inf", "must be a finite number of seconds > 0, got inf"),
        (seconds, "nan", "must be a finite number of seconds > 0, got nan"),
        (seconds, "1e999", "must be a finite number of seconds > 0, got 1e999"),
        (seconds, "soon", "not a number: 'soon'"),
        (seconds_or_zero, "-1", "must be a finite number of seconds >= 0, got -1"),
        (seconds_or_zero, "nan", "must be a finite number of seconds >= 0, got nan"),
        (seconds_or_zero, "inf", "must be a finite number of seconds >= 0, got inf"),
        (seconds_or_zero, "soon", "not a number: 'soon'"),
        (fraction, "1.5", "must be between 0 and 1, got 1.5"),
        (fraction, "-0.1", "must be between 0 and 1, got -0.1"),
        (fraction, "nan", "must be between 0 and 1, got nan"),
        (fraction, "half", "not a number: 'half'"),
    ],
)
def test_refuses_with_a_message_naming_the_problem(
    parse: Callable[[str], float], text: str, message: str
) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parse(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--connect-deadline", "inf", "> 0"),
        ("--connect-deadline", "0", "> 0"),
        ("--progress-every", "nan", "> 0"),
        ("--progress-every", "-5", "> 0"),
        ("--grace", "inf", ">= 0"),
        ("--grace", "-1", ">= 0"),
    ],
)
def test_the_import_commands_seconds_options_refuse_what_the_sdk_refuses(
    option: str, value: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["import", "rows.csv", option, value])
    assert info.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: must be a finite number of seconds {rule}, got {value}" in error


def test_the_import_commands_seconds_options_take_durations() -> None:
    args = build_parser().parse_args(
        ["import", "rows.csv", "--connect-deadline", "2.5", "--progress-every", "1", "--grace", "0"]
    )
    assert (args.connect_deadline, args.progress_every, args.grace) == (2.5, 1.0, 0.0)
