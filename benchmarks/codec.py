"""One object each way: encoding a `NewCustomer` and decoding one `Customer`, against pydantic v2.

The same data on both sides: the ten-field customer every create sends, and
the body the API answers with (the same fields plus an `id`). pydantic uses
models with the same fields; encoding omits unset fields on both sides
(`model_dump_json(exclude_none=True)`, as our encoder does by design), and
decoding is `model_validate_json` on the same bytes. Each round times every
operation over `calls` calls, the operations taking turns; the figure is
microseconds per call.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

from _common import PAYLOAD, paired_ratio, pydantic_models, summary

import ecomcharge_async as ec
from ecomcharge_async._core.customers import CUSTOMER, NEW_CUSTOMER

decode_customer, encode_new_customer = CUSTOMER.decode, NEW_CUSTOMER.encode

CUSTOMER_BODY = json.dumps({"id": "cst_0123456789abcdef", **PAYLOAD}).encode()
PAIRS = {"encode": ("encode_new_customer", "pydantic_model_dump_json"),
         "decode": ("decode_customer", "pydantic_model_validate_json")}  # fmt: skip


def pydantic_ops() -> dict[str, Callable[[], Any]] | str:
    """pydantic's encode and decode of the same data, or why they cannot run."""
    models = pydantic_models()
    if isinstance(models, str):
        return models
    NewCustomer, Customer = models
    new = NewCustomer(**PAYLOAD)
    return {
        "pydantic_model_dump_json": lambda: new.model_dump_json(exclude_none=True),
        "pydantic_model_validate_json": lambda: Customer.model_validate_json(CUSTOMER_BODY),
    }


def _us_per_call(op: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        op()
    return (time.perf_counter() - started) / calls * 1e6


def run(*, rounds: int, calls: int) -> dict[str, Any]:
    new = ec.NewCustomer(**PAYLOAD)
    ops: dict[str, Callable[[], Any]] = {
        "encode_new_customer": lambda: encode_new_customer(new),
        "decode_customer": lambda: decode_customer(CUSTOMER_BODY),
    }
    pydantic = pydantic_ops()
    skipped = {}
    if isinstance(pydantic, str):
        skipped["pydantic"] = pydantic
    else:
        ops.update(pydantic)
    for op in ops.values():  # warm up: first calls build caches
        _us_per_call(op, max(calls // 10, 10))
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for round_no in range(rounds):
        names = list(ops)
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        gc.collect()
        for name in order:
            samples[name].append(_us_per_call(ops[name], calls))
    ratios = {
        f"{what}_vs_pydantic": paired_ratio(samples[ours], samples[theirs])
        for what, (ours, theirs) in PAIRS.items()
        if theirs in samples
    }
    return {
        "calls": calls,
        "us_per_call": {name: summary(values) for name, values in samples.items()},
        "ratios": ratios,
        "skipped": skipped,
    }
