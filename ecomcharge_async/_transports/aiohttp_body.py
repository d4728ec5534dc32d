"""Reading an aiohttp response's body under the transport's size cap."""

from __future__ import annotations

import aiohttp

from .._core.errors import DecodeError
from .._core.http import is_success
from .common import body_too_large


def arrived_body(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body if all of it is here already (a small answer usually is), else None.

    Taken without an await, so the usual call runs no reading coroutine; the
    size cap applies as in `read_body`.
    """
    content = resp.content
    if not content.is_eof():
        return None
    body = content.read_nowait()
    if len(body) > limit:
        resp.close()
        if is_success(resp.status):
            raise _too_large(resp.status, limit, f"more than {limit} bytes arrived")
        return body[:limit]
    return body


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, never holding more than `limit` bytes of it.

    A 2xx over the limit raises `DecodeError` (at once when Content-Length
    announces it); any other status keeps its first `limit` bytes so that it
    still maps to its error. Either way the connection is closed, not drained.
    """
    success = is_success(resp.status)
    declared = resp.content_length
    if success and declared is not None and declared > limit:
        resp.close()
        raise _too_large(resp.status, limit, f"Content-Length is {declared}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.readany():
        size += len(chunk)
        if size > limit:
            resp.close()
            if success:
                raise _too_large(resp.status, limit, f"more than {limit} bytes arrived")
            chunks.append(chunk[: len(chunk) - (size - limit)])
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(status: int, limit: int, detail: str) -> DecodeError:
    return body_too_large("AiohttpTransport", status, limit, detail)
