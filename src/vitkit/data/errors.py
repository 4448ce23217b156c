"""The one exception type of the data package."""

from __future__ import annotations

from ..errors import VitkitError


class DataError(VitkitError):
    """A data set that cannot be opened or read: a one-line message naming the file or spec at fault.

    Raised for unknown specs, empty or malformed data sets, missing files and undecodable images, so
    that callers (the CLI, the trainer) catch one type and never see PIL's or tarfile's internals.
    """


class ImageTooLargeError(DataError):
    """An image with more pixels than the limit (a decompression bomb, or a photo past the set maximum)."""


def one_line(exc: BaseException, limit: int | None = 200) -> str:
    """``exc`` as a single-line reason (its type's name when it has no text), for embedding in a message;
    cut to ``limit`` characters (None: whole, as a skipped image's recorded reason is)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
