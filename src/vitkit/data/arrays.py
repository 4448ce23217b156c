"""In-memory data sets: one uint8 array of images, one array of labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vitkit.data.base import LabeledDataset
from vitkit.data.errors import DataError


class ArrayDataset(LabeledDataset, Dataset):
    """Images held as one uint8 array, ``(N, H, W)`` (grey) or ``(N, H, W, C)``.

    ``images`` is that array as a tensor (no copy), so loaders can gather and transform whole batches
    at once (``vitkit.data.batch_transform``); ``labels`` is an int64 tensor ``(N,)``. Items are
    ``(uint8 tensor (C, H, W), int label)``, the layout torchvision transforms expect.
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        classes: Sequence[str],
        *,
        name: str = "arrays",
    ) -> None:
        images = torch.as_tensor(images)
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        if images.dtype != torch.uint8 or images.ndim not in (3, 4):
            raise DataError(
                f"{name}: images must be uint8 (N, H, W) or (N, H, W, C), got {images.dtype} {tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0],):
            raise DataError(f"{name}: {images.shape[0]} images but labels of shape {tuple(labels.shape)}")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
            raise DataError(
                f"{name}: labels must lie in [0, {len(classes)}), got [{int(labels.min())}, {int(labels.max())}]"
            )
        self.images = images
        self.labels = labels
        self.classes = [str(c) for c in classes]
        self.name = name

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        image = image.unsqueeze(0) if image.ndim == 2 else image.permute(2, 0, 1)
        return image, int(self.labels[index])

    def describe(self, index: int) -> str:
        """``name:index``, e.g. ``fashion-mnist:train:123``."""
        return f"{self.name}:{index}"

    def validate(self) -> None:
        """An empty set is a DataError (a split may lack a class: that is not checked)."""
        if len(self) == 0:
            raise DataError(f"{self.name}: no samples")

    @property
    def channels(self) -> int:
        """Channels per image: 1 for ``(N, H, W)``, else the last dimension."""
        return 1 if self.images.ndim == 3 else self.images.shape[3]

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor, name: str) -> ArrayDataset:
        """The samples at ``indices`` (copied), as a new ArrayDataset called ``name``."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        return ArrayDataset(self.images[idx], self.labels[idx], self.classes, name=name)
