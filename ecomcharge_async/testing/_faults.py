"""Scripted and random faults the fake eComCharge can inject, for retry tests."""

from __future__ import annotations

import random
from collections import deque
from typing import Literal

import attrs

from .._core.durations import required_seconds

FaultKind = Literal["status", "delay", "refuse", "drop"]


@attrs.frozen(kw_only=True)
class Fault:
    """One injected misbehaviour for one request.

    Build them with the class methods: `Fault.status(503)`, `Fault.delay(2.0)`,
    `Fault.refuse()`, `Fault.drop()`.
    """

    kind: FaultKind
    status_code: int = 0
    retry_after: str | None = None
    body: bytes = b""
    seconds: float = 0.0

    def response_headers(self) -> dict[str, str]:
        """Headers of a `status` fault's answer, the same from both fronts of the fake."""
        is_json = self.body.startswith((b"{", b"["))
        headers = {"Content-Type": "application/json" if is_json else "text/html"}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return headers

    @classmethod
    def status(
        cls, code: int, *, retry_after: str | float | None = None, body: bytes = b""
    ) -> Fault:
        """Answer `code` (with an optional Retry-After and body) without touching state."""
        after = None if retry_after is None else str(retry_after)
        return cls(kind="status", status_code=code, retry_after=after, body=body)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait `seconds` (a duration, 0 for none) before handling the request normally."""
        return cls(kind="delay", seconds=required_seconds("seconds", seconds, zero_ok=True))

    @classmethod
    def refuse(cls) -> Fault:
        """Refuse the connection: the request never reaches the fake.

        In process this raises `ConnectError` (safe to retry). Over the loopback
        HTTP server a connection that was already accepted can only be reset,
        which the client sees as `APIConnectionError`, the ambiguous kind: the
        request is not stored either way.
        """
        return cls(kind="refuse")

    @classmethod
    def drop(cls) -> Fault:
        """Handle the request (a create is stored), then lose the response."""
        return cls(kind="drop")


DEFAULT_RANDOM_FAULTS = (
    Fault.drop(),
    Fault.refuse(),
    Fault.status(429, retry_after="1"),
    Fault.status(500),
    Fault.status(502, body=b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    Fault.status(503),
    Fault.status(504),
)


class FaultPlan:
    """The faults still to inject: a script for the next requests, then a random rate."""

    def __init__(self) -> None:
        self._script: deque[Fault | None] = deque()
        self._rate = 0.0
        self._random = random.Random(0)
        self._choices: tuple[Fault, ...] = DEFAULT_RANDOM_FAULTS

    def script(self, faults: tuple[Fault | None, ...]) -> None:
        self._script.extend(faults)

    def set_random(self, rate: float, seed: int | None, choices: tuple[Fault, ...]) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        if not choices:
            raise ValueError("at least one fault to choose from is needed")
        self._rate = rate
        self._random = random.Random(seed)
        self._choices = choices

    def clear(self) -> None:
        self._script.clear()
        self._rate = 0.0

    def next(self) -> Fault | None:
        if self._script:
            return self._script.popleft()
        if self._rate and self._random.random() < self._rate:
            return self._random.choice(self._choices)
        return None
