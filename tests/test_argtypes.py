"""The command lines' argument types: what each accepts, and the message for what it refuses."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from ecomcharge_async.cli._argtypes import (
    fraction,
    non_negative_float,
    positive_float,
    positive_int,
)


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (positive_int, "1", 1),
        (positive_int, "16", 16),
        (positive_float, "0.5", 0.5),
        (positive_float, "1e3", 1000.0),
        (non_negative_float, "0", 0.0),
        (non_negative_float, "0.05", 0.05),
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
        (non_negative_float, "-1", "must not be negative, got -1"),
        (non_negative_float, "nan", "must not be negative, got nan"),
        (non_negative_float, "soon", "not a number: 'soon'"),
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
