"""A data set's samples without decoding them: each one's description, every label, the samples at given indices.

What embedding and the few-shot probe need of any data set (folders, manifests, shards, built-in arrays).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from vitkit.data.arrays import ArrayDataset
from vitkit.data.base import LabeledDataset
from vitkit.data.errors import DataError
from vitkit.data.webdataset import WebDataset


def dataset_paths(dataset: LabeledDataset) -> list[str]:
    """``describe(i)`` of every sample (for shards from one scan, not one per sample)."""
    if isinstance(dataset, WebDataset):
        return [f"{url}:{key}" for url, keys in zip(dataset.urls, dataset.scan().keys, strict=True) for key in keys]
    return [dataset.describe(i) for i in range(len(dataset))]


def dataset_labels(dataset: LabeledDataset) -> np.ndarray | None:
    """All labels without decoding an image, when the data set knows them (arrays, folders, manifests)."""
    if isinstance(dataset, ArrayDataset):
        return dataset.labels.numpy()
    samples = getattr(dataset, "samples", None)
    if isinstance(samples, list):
        return np.array([label for _, label in samples], dtype=np.int64)
    return None


class _Subset(LabeledDataset, Dataset):
    """Samples ``indices`` of an indexable data set, described as in the full set."""

    def __init__(self, dataset: LabeledDataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices, self.classes = dataset, [int(i) for i in indices], dataset.classes

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def describe(self, index: int) -> str:
        return self.dataset.describe(self.indices[index])


def subset(dataset: LabeledDataset, indices: Sequence[int]) -> LabeledDataset:
    """The samples ``indices`` of ``dataset`` (map-style sets only). In-memory sets stay ArrayDatasets
    (batched transforms), which describe a sample by its position in the subset."""
    if isinstance(dataset, WebDataset):
        raise DataError("a subset of WebDataset shards cannot be taken by index")
    if isinstance(dataset, ArrayDataset):
        return dataset.subset(np.asarray(indices, dtype=np.int64), name=f"{dataset.name}:subset")
    return _Subset(dataset, indices)
