"""The event loop an import runs on: uvloop where it is installed, else asyncio's own.

An import on loopback spends about a quarter of its CPU in the event loop and
the socket calls under it; uvloop (libuv, in C) does the same work for less
(benchmarks/import_peer.py). It is a dependency on the platforms it supports;
`--event-loop asyncio` runs on the standard library's loop instead, should a
platform's uvloop misbehave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ._import import UsageError

#: The choices of `--event-loop`.
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What `asyncio.Runner` makes its loop with (None: asyncio's default)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise UsageError(
                "--event-loop uvloop: uvloop is not installed (pip install uvloop)"
            ) from None
        return None
    return uvloop.new_event_loop
