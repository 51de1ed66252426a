"""Reading a request's body under a size limit, before anything about the request is trusted."""

from __future__ import annotations

from fastapi import Request


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past `limit` (without reading the rest into memory).

    A declared Content-Length over the limit is refused before a byte of the body is read.
    """
    declared = request.headers.get("content-length")
    # isascii: str.isdigit also accepts digits such as "²" that int() refuses.
    if declared is not None and declared.isascii() and declared.isdigit():
        # The server reads exactly the declared length, no more: only a body without one needs counting as it comes.
        return await request.body() if int(declared) <= limit else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
