"""The chain's last link: the one owner of the attempt timeout, streamed bodies included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec

BODY = b'[{"id": "cst_1"}, {"id": "cst_2"}]'


class StallingStream:
    """A streaming transport (bounding nothing itself) whose body stops after its first chunk."""

    def __init__(self) -> None:
        self.closed_chunks = asyncio.Event()

    async def send(self, request: ec.Request) -> ec.Response:
        return ec.Response(status=200, body=BODY)

    async def stream(self, request: ec.Request) -> ec.Response:
        return ec.Response(status=200, chunks=self._chunks())

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            yield BODY[:18]  # the first customer, complete
            await asyncio.Event().wait()  # then nothing, ever
        finally:
            self.closed_chunks.set()

    async def aclose(self) -> None:
        pass


async def test_each_wait_for_a_chunk_is_bounded_and_the_stream_is_closed() -> None:
    transport = StallingStream()
    seen: list[str] = []

    async def read_all(client: ec.Client) -> None:
        async for customer in client.customers.iter():
            seen.append(customer.id)

    async with ec.Client(SHOP_ID, SECRET, transport=transport, timeout=0.05) as client:
        with pytest.raises(ec.APITimeoutError, match=r"no data for 0\.05 s while streaming"):
            await read_all(client)
        assert seen == ["cst_1"]
        assert transport.closed_chunks.is_set()
        # The same transport's whole answers are not bounded by a chunk timer.
        assert [c.id for c in await client.customers.list()] == ["cst_1", "cst_2"]


async def test_without_a_timeout_the_stream_is_handed_over_as_it_is() -> None:
    class Whole(StallingStream):
        async def _chunks(self) -> AsyncIterator[bytes]:
            yield BODY

    async with ec.Client(SHOP_ID, SECRET, transport=Whole(), timeout=None) as client:
        assert [c.id async for c in client.customers.iter()] == ["cst_1", "cst_2"]
