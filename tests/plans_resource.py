"""A second resource on the shared request path: all it takes is this module and its model."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from plans_model import NewPlan, Plan

from ecomcharge_async._core.requester import RawResponse, Requester, items
from ecomcharge_async._serde.codec import Codec

NEW_PLAN, PLAN = Codec(NewPlan, name="plan"), Codec(Plan)
ONE = "/plans/{plan_id}"


class Plans:
    def __init__(self, requester: Requester) -> None:
        self._api = requester

    def create(self, plan: NewPlan) -> Coroutine[Any, Any, Plan]:
        return self._api.call("plans.create", "POST", "/plans", NEW_PLAN.encode(plan), PLAN.decode)

    def get(self, plan_id: str) -> Coroutine[Any, Any, Plan]:
        return self._api.call("plans.get", "GET", f"/plans/{plan_id}", b"", PLAN.decode, ONE)

    def list(self) -> Coroutine[Any, Any, builtins.list[Plan]]:
        return self._api.call("plans.list", "GET", "/plans", b"", PLAN.decode_list)

    async def iter(self) -> AsyncGenerator[Plan, None]:
        response = await self._api.send("plans.iter", "GET", "/plans", stream=True)
        async with contextlib.aclosing(items(response, PLAN.decode_stream)) as plans:
            async for plan in plans:
                yield plan

    async def get_raw(self, plan_id: str) -> RawResponse[Plan]:
        response = await self._api.send("plans.get", "GET", f"/plans/{plan_id}", route=ONE)
        return RawResponse(response, PLAN.decode)
