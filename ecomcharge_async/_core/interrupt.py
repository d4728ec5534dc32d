"""Ctrl-C while the main thread runs the SDK's loop for its call: cancel the call, never raise
inside the loop.

Python raises `KeyboardInterrupt` wherever the main thread happens to be; in the
middle of a transport's callback that would leave a half-read response behind
for the next call. While it leads the loop, the main thread swaps Python's
default SIGINT handler for one that only cancels its call on the loop (as
`asyncio.Runner` does), and raises `KeyboardInterrupt` once the loop has let go.
A handler of the application's own might raise anywhere: then the main thread
never holds the loop (its call is queued for whoever runs it), and whatever the
handler raises, wherever, cancels the call.
"""

from __future__ import annotations

import importlib
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

# signal's C functions: the `signal` module's wrappers convert to enums, about
# 10 µs a call, more than the rest of a sync call's overhead.
_signal_c: Any = importlib.import_module("_signal")
_getsignal: Callable[[int], object] = _signal_c.getsignal
_setsignal: Callable[[int, object], object] = _signal_c.signal

#: SIGINT handlers under which Ctrl-C raises nowhere inside the loop (or is ours to replace).
_SAFE = (signal.SIG_DFL, signal.SIG_IGN)


class SigintGuard:
    """Ctrl-C, while installed, cancels the call through `cancel` instead of raising."""

    __slots__ = ("_cancel", "installed", "interrupted")

    def __init__(self, cancel: Callable[[], object]) -> None:
        self._cancel = cancel
        self.interrupted = False
        self.installed = False

    def install(self) -> bool:
        """In the main thread: take over Ctrl-C if Python's default handler has it; whether
        Ctrl-C can now raise nowhere inside the loop."""
        handler = _getsignal(signal.SIGINT)
        if handler is signal.default_int_handler:
            _setsignal(signal.SIGINT, self._on_sigint)
            self.installed = True
            return True
        return handler in _SAFE

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True
        self._cancel()

    def remove(self) -> None:
        if self.installed:
            self.installed = False
            _setsignal(signal.SIGINT, signal.default_int_handler)
