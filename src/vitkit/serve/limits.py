"""What the server accepts: upload sizes, pixel counts, files per request, time per request.

Uploads are read in chunks and refused (413) as soon as they pass ``max_upload_bytes``, before they are
held whole; decoding goes through ``vitkit.data.decode_image`` (its limit on pixels refuses decompression
bombs before decoding, truncated files and non-images are DataErrors), mapped here to 4xx answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from .errors import RequestError

READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """Per-request limits; the defaults suit photos up to ~40 megapixels."""

    max_upload_bytes: int = 16 * 1024 * 1024  # per file
    max_pixels: int = 40_000_000  # width x height, checked from the header before decoding
    max_files: int = 64  # images in one request
    request_timeout_s: float = 30.0
    max_k: int = 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_upload_bytes": self.max_upload_bytes,
            "max_pixels": self.max_pixels,
            "max_files": self.max_files,
            "request_timeout_s": self.request_timeout_s,
        }


async def read_upload(upload: Any, limits: Limits) -> bytes:
    """The bytes of one uploaded file (a Starlette ``UploadFile``): 413 past the size limit, 400 when empty."""
    name = upload.filename or "image"
    chunks, total = [], 0
    while chunk := await upload.read(READ_CHUNK):
        total += len(chunk)
        if total > limits.max_upload_bytes:
            raise RequestError(413, f"{name}: upload larger than the limit of {limits.max_upload_bytes} bytes")
        chunks.append(chunk)
    if total == 0:
        raise RequestError(400, f"{name}: empty upload (0 bytes)")
    return b"".join(chunks)


def decode_upload(data: bytes, name: str, limits: Limits) -> Image.Image:
    """Decode an upload to RGB (``vitkit.data.decode_image``): too many pixels is 413, anything else 415."""
    from ..data.decode import decode_image  # deferred: the CLI's parser reads Limits without torch
    from ..data.errors import DataError, ImageTooLargeError

    try:
        return decode_image(data, name, max_pixels=limits.max_pixels)
    except DataError as e:
        raise RequestError(413 if isinstance(e, ImageTooLargeError) else 415, str(e)) from None


def check_k(k: int, limits: Limits) -> int:
    """``?k=`` within [1, max_k]."""
    if not 1 <= k <= limits.max_k:
        raise RequestError(422, f"k: expected an integer in [1, {limits.max_k}], got {k}")
    return k
