"""Argument types for the command lines (`ecomcharge`, `python -m ecomcharge_async.testing`).

Each parses one option's text or raises `argparse.ArgumentTypeError` naming the
problem, which argparse prints with the option's name and exit status 2. The
module sits below both command lines, so each imports it downward.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from ._core.durations import duration_rule, required_seconds


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def bounded_int(maximum: int) -> Callable[[str], int]:
    """A whole number from 1 to `maximum`."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {value:,}")
        return value

    return parse


def auto_or_bounded_int(maximum: int) -> Callable[[str], int | str]:
    """`auto`, or a whole number from 1 to `maximum`."""
    number = bounded_int(maximum)

    def parse(text: str) -> int | str:
        if text.strip().lower() == "auto":
            return "auto"
        try:
            int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be auto or a whole number, got {text!r}"
            ) from None
        return number(text)

    return parse


def positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def seconds(text: str) -> float:
    """A duration: the SDK's one check (finite, above 0), as an option's value."""
    return _duration(text, zero_ok=False)


def seconds_or_zero(text: str) -> float:
    """A duration where 0 means none (a grace period, a simulated latency)."""
    return _duration(text, zero_ok=True)


def _duration(text: str, *, zero_ok: bool) -> float:
    try:
        return required_seconds("the value", _number(text), zero_ok=zero_ok)
    except ValueError:
        rule = duration_rule(zero_ok=zero_ok)
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text}") from None


def fraction(text: str) -> float:
    """A probability: a number from 0 to 1."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value
