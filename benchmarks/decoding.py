"""Decoding `customers.list()` of many customers: our converter vs pydantic v2 vs json.loads.

All decode the same bytes, fetched once from the loopback fake with
`GET /customers`. Parsing alone is the floor: `json.loads` (the standard
library) and `msgspec.json.decode` to plain objects (the parser our liberal
path uses; the fast path decodes straight into the classes). pydantic is
measured with a model of the same fields (`TypeAdapter(list[Model]).validate_json`),
the fastest way it offers.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec
from _common import SECRET_KEY, SHOP_ID, FakeServer, paired_ratio, pydantic_models, summary

from ecomcharge_async._core.customers import CUSTOMER

decode_customer_list = CUSTOMER.decode_list

REPEATS = 5  # decodes per round, the decoders taking turns; the round's figure is the median


async def fetch_list(url: str) -> bytes:
    """The raw body of GET /customers, as the client would receive it."""
    headers = {"Authorization": aiohttp.encode_basic_auth(SHOP_ID, SECRET_KEY)}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/customers", headers=headers) as resp,
    ):
        resp.raise_for_status()
        return await resp.read()


def pydantic_decoder() -> Callable[[bytes], Any] | str:
    """`TypeAdapter(list[Customer]).validate_json` for a same-shaped model, or why not."""
    models = pydantic_models()
    if isinstance(models, str):
        return models
    from pydantic import TypeAdapter

    _, customer = models
    return TypeAdapter(list[customer]).validate_json


def _one_round(decoders: dict[str, Callable[[bytes], Any]], body: bytes) -> dict[str, float]:
    """Each decoder's median time in ms over REPEATS decodes, taken in turns."""
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(REPEATS):
        for name, decode in decoders.items():
            gc.collect()
            started = time.perf_counter()
            decode(body)
            times[name].append((time.perf_counter() - started) * 1000.0)
    return {name: statistics.median(values) for name, values in times.items()}


def run(server: FakeServer, *, rounds: int) -> dict[str, Any]:
    body = asyncio.run(fetch_list(server.url))
    count = len(json.loads(body))
    decoders: dict[str, Callable[[bytes], Any]] = {"ecomcharge_async": decode_customer_list}
    skipped = {}
    pydantic = pydantic_decoder()
    if isinstance(pydantic, str):
        skipped["pydantic"] = pydantic
    else:
        decoders["pydantic"] = pydantic
    decoders["json_loads"] = json.loads
    decoders["msgspec_loads"] = msgspec.json.decode
    rounds_ms = [_one_round(decoders, body) for _ in range(rounds)]
    figures: dict[str, Any] = {}
    for name in decoders:
        ms = summary([r[name] for r in rounds_ms])
        figures[name] = {"ms": ms, "us_per_customer": ms["median"] * 1000.0 / count}
    ours = [r["ecomcharge_async"] for r in rounds_ms]
    ratios = {
        f"vs_{name}": paired_ratio(ours, [r[name] for r in rounds_ms])
        for name in decoders
        if name != "ecomcharge_async"
    }
    return {
        "customers": count,
        "body_bytes": len(body),
        "decoders": figures,
        "ratios": ratios,
        "skipped": skipped,
    }
