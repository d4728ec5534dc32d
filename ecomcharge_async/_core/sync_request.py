"""`SyncClient.request` and its raw twin: the generic request without `await`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .requester import RawResponse

if TYPE_CHECKING:
    from .client import Client

T = TypeVar("T")


class SyncRequests:
    """The generic request of a `SyncClient` (which supplies `_run`)."""

    if TYPE_CHECKING:

        def _run(self, call: Callable[[Client], Coroutine[Any, Any, T]]) -> T: ...

    def request(self, method: str, path: str, *, json: Any = None, cast: Any = None) -> Any:
        """`Client.request` without `await`: any endpoint, with everything `customers` has."""
        return self._run(lambda client: client.request(method, path, json=json, cast=cast))

    @property
    def with_raw_response(self) -> SyncClientWithRawResponse:
        """`request()` returning a `RawResponse` (status, headers, request id, `parse()`)."""
        return SyncClientWithRawResponse(self)


class SyncClientWithRawResponse:
    """`with_raw_response` of a `SyncClient`: `request()` returning a `RawResponse`."""

    __slots__ = ("_owner",)

    def __init__(self, owner: SyncRequests) -> None:
        self._owner = owner

    def request(
        self, method: str, path: str, *, json: Any = None, cast: Any = None
    ) -> RawResponse[Any]:
        """`Client.with_raw_response.request` without `await`."""
        return self._owner._run(
            lambda client: client.with_raw_response.request(method, path, json=json, cast=cast)
        )
