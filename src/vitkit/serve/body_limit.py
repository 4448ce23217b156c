"""An ASGI middleware that refuses request bodies over a size limit (413) before they are parsed.

A declared ``Content-Length`` over the limit is answered at once, without reading the body; a body
sent without one (chunked) is counted as it arrives and cut off once it passes the limit, so a huge
upload is never spooled to memory or disk whole.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import RequestError


class BodyLimit:
    """Wrap an ASGI ``app``: HTTP bodies larger than ``max_bytes`` get a 413 with a one-line JSON error."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _too_large(send, self.max_bytes)
        seen = 0

        async def counted_receive() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise RequestError(413, f"request body larger than the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, counted_receive, send)


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"error": f"request body larger than the limit of {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
