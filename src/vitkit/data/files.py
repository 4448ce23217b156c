"""Unlabelled image files: the images given, folders expanded to every image below them (``vitkit predict DIR``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from torch.utils.data import Dataset

from vitkit.data.base import FileSamples
from vitkit.data.errors import DataError
from vitkit.data.folder import _images_below


def expand_images(items: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Each file as given, each folder as its images (sorted, hidden entries ignored), in argument order."""
    paths: list[str] = []
    for item in items:
        item = os.fspath(item)
        paths += _images_below(item) if os.path.isdir(item) else [item]
    return paths


class ImageFiles(FileSamples, Dataset):
    """Image files without labels (label -1, no classes), described by their paths."""

    def __init__(self, items: Sequence[str | os.PathLike[str]], *, skip_bad: bool = False) -> None:
        self.samples = [(p, -1) for p in expand_images(items)]
        self.classes = []
        self.skip_bad, self.skipped = skip_bad, 0
        if not self.samples:
            raise DataError(f"{', '.join(map(str, items))}: no image files")
