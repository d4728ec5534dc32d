"""A body nested far deeper than any answer: iter() refuses it in bounded memory.

Regression: with the earlier ijson-based reader, 100,000 nested arrays took gigabytes
(its memory grew with the square of the depth); tests/memory_guard.py caught it.
"""

from __future__ import annotations

import pytest

import ecomcharge_async as ec


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b"[" + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]",
        b"[" * 100_000,
    ],
    ids=["arrays", "objects", "open"],
)
async def test_iter_refuses_a_body_nested_deeper_than_any_answer(body: bytes) -> None:
    class Deep:
        async def send(self, request: ec.Request) -> ec.Response:
            return ec.Response(status=200, headers={}, body=body)

        async def aclose(self) -> None:
            pass

    async with ec.Client("361", "s", transport=Deep()) as client:
        with pytest.raises(ec.DecodeError):
            [c async for c in client.customers.iter()]
