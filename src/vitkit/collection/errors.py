"""The collection's one error type."""

from __future__ import annotations

from ..data.errors import DataError


class CollectionError(DataError):
    """An output folder that cannot be used: locked by another job, left by a different job, unfinished,
    or not a collection at all. One line naming the folder and what to do."""
