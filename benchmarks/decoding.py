"""Decoding `customers.list()` of many customers: our converter vs pydantic v2 vs json.loads.

All three decode the same bytes, fetched once from the loopback fake with
`GET /customers`. `json.loads` alone is the floor: no decoder can be faster
than parsing. pydantic is measured with a model of the same fields
(`TypeAdapter(list[Model]).validate_json`), the fastest way it offers.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from _common import SECRET_KEY, SHOP_ID, ratio, summary

from ecomcharge_async._serde import decode_customer_list

REPEATS = 5  # decodes per round; the round's figure is their median


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
    try:
        from pydantic import BaseModel, TypeAdapter
    except ImportError:
        return "pydantic is not installed (nox -s bench installs it)"

    class Customer(BaseModel):
        id: str
        email: str
        ip: str
        first_name: str | None = None
        last_name: str | None = None
        address: str | None = None
        city: str | None = None
        country: str | None = None
        zip: str | None = None
        state: str | None = None
        phone: str | None = None

    return TypeAdapter(list[Customer]).validate_json


def _time_ms(decode: Callable[[bytes], Any], body: bytes) -> float:
    times = []
    for _ in range(REPEATS):
        gc.collect()
        started = time.perf_counter()
        decode(body)
        times.append((time.perf_counter() - started) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def run(url: str, *, rounds: int) -> dict[str, Any]:
    body = asyncio.run(fetch_list(url))
    count = len(json.loads(body))
    decoders: dict[str, Callable[[bytes], Any]] = {
        "ecomcharge_async": decode_customer_list,
        "json_loads": json.loads,
    }
    skipped = {}
    pydantic = pydantic_decoder()
    if isinstance(pydantic, str):
        skipped["pydantic"] = pydantic
    else:
        decoders["pydantic"] = pydantic
    samples: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(rounds):
        for name, decode in decoders.items():
            samples[name].append(_time_ms(decode, body))
    figures = {name: {"ms": summary(values)} for name, values in samples.items()}
    for fig in figures.values():
        fig["us_per_customer"] = fig["ms"]["median"] * 1000.0 / count
    ours = figures["ecomcharge_async"]["ms"]["median"]
    ratios = {"vs_json_loads": ratio(ours, figures["json_loads"]["ms"]["median"])}
    if "pydantic" in figures:
        ratios["vs_pydantic"] = ratio(ours, figures["pydantic"]["ms"]["median"])
    return {
        "customers": count,
        "body_bytes": len(body),
        "decoders": figures,
        "ratios": ratios,
        "skipped": skipped,
    }
