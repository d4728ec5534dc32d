"""Reading an httpx response: its body under the transport's size cap, its headers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import cast

import httpx

from .._core.errors import DecodeError
from .._core.http import is_success
from .common import body_too_large


def body_bytes(resp: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The (decompressed) body as it arrives; with a chunk size httpx would wait to fill it."""
    return cast("AsyncGenerator[bytes, None]", resp.aiter_bytes())


async def read_body(resp: httpx.Response, limit: int) -> bytes:
    """The body, holding at most `limit` bytes of it, as `AiohttpTransport` does.

    A 2xx over the limit raises `DecodeError` (at once when Content-Length
    announces it); any other status keeps its first `limit` bytes so that it
    still maps to its error. The caller closes the response, which closes a
    connection left unread instead of draining it.
    """
    success = is_success(resp.status_code)
    declared = _content_length(resp)
    if success and declared is not None and declared > limit:
        raise _too_large(resp.status_code, limit, f"Content-Length is {declared}")
    chunks: list[bytes] = []
    size = 0
    async with aclosing(body_bytes(resp)) as pieces:
        async for chunk in pieces:
            size += len(chunk)
            if size > limit:
                if success:
                    raise _too_large(resp.status_code, limit, f"more than {limit} bytes arrived")
                chunks.append(chunk[: len(chunk) - (size - limit)])
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _content_length(resp: httpx.Response) -> int | None:
    value = resp.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _too_large(status: int, limit: int, detail: str) -> DecodeError:
    return body_too_large("HttpxTransport", status, limit, detail)


def response_headers(resp: httpx.Response) -> dict[str, str]:
    """Response headers with the server's spelling; the first of repeated names wins."""
    encoding = resp.headers.encoding
    headers: dict[str, str] = {}
    for raw_name, raw_value in resp.headers.raw:
        headers.setdefault(raw_name.decode(encoding), raw_value.decode(encoding))
    return headers
