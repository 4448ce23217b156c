"""What every vitkit data set offers, whatever its source."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from typing import Any

from vitkit.data.decode import load_image
from vitkit.data.errors import DataError


class LabeledDataset(abc.ABC):
    """A labelled image data set: items are ``(image, label)`` with ``image`` a ``PIL.Image`` (RGB) or
    a uint8 tensor (C, H, W), and ``label`` an int indexing ``classes``.

    Concrete classes also derive from ``torch.utils.data.Dataset`` (map-style, indexable) or
    ``IterableDataset`` (streamed). With ``skip_bad=True`` an undecodable sample is not an error:
    map-style sets return ``None`` for it, streams leave it out, and ``skipped`` counts them (in this
    process; ``make_loader`` counts across worker processes itself).
    """

    classes: list[str]
    skip_bad: bool = False
    skipped: int = 0

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def describe(self, index: int) -> str:
        """Where sample ``index`` comes from: a file path, or ``name:index`` for in-memory sets."""

    @property
    def num_classes(self) -> int:
        """``len(classes)``."""
        return len(self.classes)

    def validate(self) -> None:
        """Cheap checks before training (file existence, never decoding): DataError on the first problem."""
        return None

    def _bad(self, err: DataError) -> None:
        """Record an undecodable sample under ``skip_bad``; re-raise it otherwise."""
        if not self.skip_bad:
            raise err
        self.skipped += 1


class FileSamples(LabeledDataset):
    """A map-style set of ``samples = [(path, label), ...]`` decoded on access (folders, manifests)."""

    samples: list[tuple[str, int]]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int] | None:
        path, label = self.samples[index]
        try:
            return load_image(path), label
        except DataError as err:
            self._bad(err)
            return None

    def describe(self, index: int) -> str:
        """The image's path."""
        return self.samples[index][0]


def sorted_class_names(names: Iterable[Any]) -> list[str]:
    """Unique class names, sorted; numerically when every name is an integer (so "10" follows "9")."""
    unique = {str(n) for n in names}
    if unique and all(re.fullmatch(r"-?\d+", n) for n in unique):
        return sorted(unique, key=int)
    return sorted(unique)
