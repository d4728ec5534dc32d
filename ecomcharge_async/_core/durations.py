"""The one check for every duration the SDK takes: timeouts, backoffs, deadlines, CLI seconds.

A duration is a finite real number of seconds above zero. `None` means "no
limit" only where an option documents it; `0` means "none" only where an option
documents that (a grace period, a simulated latency). Everything else is
refused when the option is given, never on the first call: `True` would mean
1 s, `"5"` would fail in a comparison later, and `inf` overflows the timers.
"""

from __future__ import annotations

import math
from numbers import Real


def seconds(
    name: str, value: object, *, none_ok: bool = False, zero_ok: bool = False
) -> float | None:
    """`value` as float seconds, None only when `none_ok` allows it; else
    `TypeError` (not a real number: bool, str, None) or `ValueError` (inf, nan,
    negative, 0 unless `zero_ok`), naming `name` and the rule."""
    if value is None and none_ok:
        return None
    return required_seconds(name, value, zero_ok=zero_ok, none_ok=none_ok)


def required_seconds(
    name: str, value: object, *, zero_ok: bool = False, none_ok: bool = False
) -> float:
    """`seconds` for an option without "no limit" (`none_ok` only words the message)."""
    rule = duration_rule(zero_ok=zero_ok, none_ok=none_ok)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {rule}, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int or Fraction past float's range
        raise ValueError(f"{name} must be {rule}, got a number out of float's range") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        raise ValueError(f"{name} must be {rule}, got {number!r}")
    return number


def duration_rule(*, zero_ok: bool = False, none_ok: bool = False) -> str:
    """What a duration must be, in the words every refusal uses (for callers that parse text)."""
    rule = f"a finite number of seconds {'>= 0' if zero_ok else '> 0'}"
    return rule + ", or None" if none_ok else rule
