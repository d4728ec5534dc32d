"""The nesting-depth guard in front of ijson: exact across chunks, strings ignored."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ecomcharge_async as ec
from ecomcharge_async._depth import DepthGuard


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ab\n\u00e9', max_size=8)
documents = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


@given(documents, st.lists(st.integers(0, 200), max_size=6), st.integers(0, 8))
def test_the_guard_agrees_with_the_real_depth_however_the_text_is_cut(
    value: Any, cuts: list[int], limit: int
) -> None:
    text = json.dumps(value).encode()
    points = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    guard = DepthGuard(limit)
    verdicts = [guard.too_deep(text[a:b]) for a, b in itertools.pairwise(points)]
    assert any(verdicts) == (depth_of(value) > limit)


async def test_iter_refuses_a_body_nested_deeper_than_any_answer() -> None:
    # 100,000 nested arrays: ijson alone would need gigabytes for them.
    body = b"[" * 100_000 + b"]" * 100_000

    class Deep:
        async def send(self, request: ec.Request) -> ec.Response:
            return ec.Response(status=200, headers={}, body=body)

        async def aclose(self) -> None:
            pass

    async with ec.Client("361", "s", transport=Deep()) as client:
        with pytest.raises(ec.DecodeError, match="nested more than 512 levels deep"):
            [c async for c in client.customers.iter()]
