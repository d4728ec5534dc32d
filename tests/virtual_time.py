"""An event loop on simulated time: when nothing is ready, its clock jumps to the next timer.

A minute of simulated import takes well under a second, and nothing sleeps for
real; `asyncio.sleep` and timeouts run on the virtual clock too.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any


class _JumpingSelector(selectors.BaseSelector):
    """A selector that moves its loop's clock by the timeout instead of waiting it out."""

    def __init__(self, loop_clock: list[float]) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = loop_clock

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("the simulation would wait forever: nothing is scheduled")
        self._clock[0] += timeout
        return self._real.select(0)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time: when nothing is ready, time jumps to the next timer."""

    def __init__(self) -> None:
        self._now = [0.0]
        super().__init__(_JumpingSelector(self._now))

    def time(self) -> float:
        return self._now[0]


def simulate(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main())


async def virtual_sleep(seconds: float) -> None:
    """Sleep on the running (virtual) loop's clock."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_later(seconds, done.set_result, None)
    await done


def virtual_clock() -> float:
    return asyncio.get_running_loop().time()
