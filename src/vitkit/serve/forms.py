"""Reading a request's images: the multipart field ``image`` (one or more files), checked and decoded.

Every way a request can be wrong becomes a ``RequestError`` with a one-line message: not multipart
(415), malformed (400), no ``image`` field or a text value in it (422), too many files (413), an empty
or oversized file (400 / 413), a non-image or truncated file (415), too many pixels (413).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from .errors import RequestError
from .limits import Limits, read_upload

FIELD = "image"

# OpenAPI description of the request body, for the docs at /docs
MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more image files (any format Pillow reads)",
                        }
                    },
                }
            }
        },
    }
}


async def read_images(request: Request, limits: Limits) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` of each file in the request's ``image`` field, in order."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise RequestError(
            415, f"expected a multipart/form-data body with field '{FIELD}', got {ctype or 'no content type'}"
        )
    try:
        form = await request.form(max_files=limits.max_files, max_fields=100)
    except RequestError:
        raise
    except Exception as e:  # noqa: BLE001 -- starlette's MultiPartException, or python-multipart's own errors
        reason = " ".join(str(e).split()) or type(e).__name__
        if "too many files" in reason.lower():
            raise RequestError(413, f"more than {limits.max_files} files in one request") from None
        raise RequestError(400, f"malformed multipart body ({reason})") from None
    try:
        values = form.getlist(FIELD)
        if not values:
            got = ", ".join(sorted(set(form.keys()))) or "no fields"
            raise RequestError(422, f"expected multipart field '{FIELD}' with one or more image files (got: {got})")
        return [await _one(v, i, limits) for i, v in enumerate(values)]
    finally:
        await form.close()


async def _one(value: Any, index: int, limits: Limits) -> tuple[str, bytes]:
    if not isinstance(value, UploadFile):
        raise RequestError(422, f"field '{FIELD}' #{index}: expected a file upload, got a text value")
    return value.filename or f"image #{index}", await read_upload(value, limits)
