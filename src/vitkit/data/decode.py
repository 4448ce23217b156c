"""Robust image decoding: any file Pillow reads becomes an 8-bit RGB ``PIL.Image``, or a DataError.

Policies (chosen once, here):
- EXIF orientation is applied (``ImageOps.exif_transpose``); an unreadable EXIF block is ignored, since
  the pixels themselves are fine.
- Transparency (RGBA, LA, PA, palette with a transparent index) is composited onto white: images with
  alpha are mostly icons/drawings on transparent backgrounds, which read as intended on white, while
  merely dropping alpha exposes whatever colour the transparent pixels happen to store.
- 16-bit (``I;16*``) and 32-bit integer (``I``) grey are scaled from [0, 65535] to [0, 255] with rounding;
  Pillow's own ``convert("L")`` clips them instead, turning most 16-bit images white.
- Float (``F``) grey is taken as [0, 1] when its maximum is <= 1, else as [0, 255]; then clipped.
- Multi-frame files (GIF, TIFF) give their first frame.
- Images with more than ``max_pixels`` pixels (default 1e8, see ``set_max_image_pixels``) are refused
  before decoding, as decompression bombs.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import IO

import numpy as np
from PIL import Image, ImageOps

from vitkit.data.errors import DataError, ImageTooLargeError, one_line

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
"""File name endings (lower case) that the image folder reader treats as images."""

_max_pixels = 100_000_000


def set_max_image_pixels(limit: int) -> None:
    """Set the decompression-bomb limit (width x height) that ``load_image`` enforces for the process.

    Pillow refuses on its own anything above twice ``PIL.Image.MAX_IMAGE_PIXELS`` (about 179M pixels
    by default), so a larger limit raises Pillow's too; a smaller one leaves Pillow's alone.
    """
    global _max_pixels
    if int(limit) <= 0:
        raise ValueError(f"max image pixels: expected a positive int, got {limit!r}")
    _max_pixels = int(limit)
    if Image.MAX_IMAGE_PIXELS is not None and 2 * Image.MAX_IMAGE_PIXELS < _max_pixels:
        Image.MAX_IMAGE_PIXELS = _max_pixels


def get_max_image_pixels() -> int:
    """The decompression-bomb limit in pixels currently enforced by ``load_image``."""
    return _max_pixels


def load_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> Image.Image:
    """Decode the image file at ``path`` into an 8-bit RGB image (see the module docstring for policies).

    Raises DataError ``"<path>: ..."`` (one line) for a missing, unreadable, truncated, corrupt,
    non-image or too large file.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as fp:
            return _decode(fp, name, max_pixels)
    except OSError as exc:  # open() itself failed: missing file, permissions, a directory
        raise DataError(f"{name}: cannot read file ({one_line(exc)})") from None


def decode_image(data: bytes, name: str, *, max_pixels: int | None = None) -> Image.Image:
    """Decode image bytes (e.g. a tar member); ``name`` is what error messages call them."""
    return _decode(io.BytesIO(data), name, max_pixels)


def _decode(fp: IO[bytes], name: str, max_pixels: int | None) -> Image.Image:
    limit = _max_pixels if max_pixels is None else int(max_pixels)
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns below its hard limit; our limit decides, so silence it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fp)
            _check_size(im, name, limit)
            im.load()  # decode now, while the file is open: truncation surfaces here, not later
            return to_rgb(_exif_transpose(im))
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{name}: image too large, refused as a decompression bomb ({one_line(exc)})"
        ) from None
    except Image.UnidentifiedImageError:
        raise DataError(f"{name}: cannot decode image (not a recognised image format)") from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error... per plugin
        raise DataError(f"{name}: cannot decode image ({one_line(exc)})") from None


def _check_size(im: Image.Image, name: str, limit: int) -> None:
    w, h = im.size
    if w * h > limit:
        raise ImageTooLargeError(
            f"{name}: image too large ({w}x{h} = {w * h} pixels > limit {limit}; "
            "raise it with vitkit.data.set_max_image_pixels)"
        )


def _exif_transpose(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception:  # a corrupt EXIF block: keep the pixels unrotated rather than lose the image
        return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert a decoded image of any Pillow mode to 8-bit RGB (policies in the module docstring)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_grey_to_uint8(np.asarray(im), mode)).convert("RGB")
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    elif mode in ("PA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _grey_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    arr = arr.astype(np.float64)
    if mode == "F":
        arr = arr * 255.0 if arr.size and arr.max() <= 1.0 else arr
    else:  # I;16, I;16B, I;16L, I: 16-bit range
        arr = arr / 257.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
