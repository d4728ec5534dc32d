"""The error for an input that cannot be imported (shared by the readers)."""

from __future__ import annotations


class InputError(ValueError):
    """The input file as a whole cannot be imported (the CLI exits with status 2)."""
