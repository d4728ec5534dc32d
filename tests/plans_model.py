"""The model of a second resource, defined only in tests (the proof of shape)."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class NewPlan:
    title: str
    amount: int
    currency: str = "EUR"


@attrs.frozen(kw_only=True)
class Plan:
    id: str
    title: str | None = None
    amount: int | None = None
    currency: str | None = None
