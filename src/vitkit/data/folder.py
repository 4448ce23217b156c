"""Image folders: one sub-folder per class, images anywhere below it."""

from __future__ import annotations

import os

from torch.utils.data import Dataset

from vitkit.data.base import FileSamples
from vitkit.data.decode import IMAGE_EXTENSIONS
from vitkit.data.errors import DataError


class ImageFolderDataset(FileSamples, Dataset):
    """``root/<class>/**/<image>``: classes are the sorted sub-folder names, samples sorted by path.

    Hidden entries (``.name``) are ignored, so are files whose extension is not one of
    ``IMAGE_EXTENSIONS`` (case-insensitive). Items are ``(PIL RGB image, label)``, or ``None`` for an
    undecodable file under ``skip_bad``.
    """

    def __init__(self, root: str | os.PathLike[str], *, skip_bad: bool = False) -> None:
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise DataError(f"{self.root}: not a folder")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith("."))
        self.samples: list[tuple[str, int]] = []
        for label, name in enumerate(self.classes):
            self.samples += [(path, label) for path in _images_below(os.path.join(self.root, name))]
        self.skip_bad = skip_bad
        self.skipped = 0

    def validate(self) -> None:
        """DataError when there is no class folder, or a class folder holds no image."""
        if not self.classes:
            raise DataError(f"{self.root}: no class sub-folders (expected {self.root}/<class>/<image>)")
        counts = [0] * len(self.classes)
        for _, label in self.samples:
            counts[label] += 1
        for name, count in zip(self.classes, counts, strict=True):
            if count == 0:
                exts = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
                raise DataError(f"{os.path.join(self.root, name)}: class folder has no images ({exts})")


def _images_below(folder: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # prune hidden folders in place
        found += [
            os.path.join(dirpath, f)
            for f in filenames
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return sorted(found)
