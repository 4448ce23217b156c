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


def one_line(exc: BaseException, limit: int = 200) -> str:
    """``exc`` as a short single-line reason, for embedding in a DataError message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
