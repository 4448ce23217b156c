"""Fixed train/test splits of data sets that ship as one array."""

from __future__ import annotations

import numpy as np

from vitkit.data.arrays import ArrayDataset
from vitkit.data.errors import DataError


def seeded_split(full: ArrayDataset, split: str, test_size: int, *, seed: int = 0, name: str) -> ArrayDataset:
    """``split`` ("train" or "test") of ``full``: one seeded permutation, the last ``test_size`` of it
    is test, the rest train (each in permutation order). The same seed gives the same split anywhere."""
    order = np.random.default_rng(seed).permutation(len(full))
    if split == "train":
        return full.subset(order[: len(full) - test_size], f"{name}:train")
    if split == "test":
        return full.subset(order[len(full) - test_size :], f"{name}:test")
    raise DataError(f"{name}: unknown split {split!r} (valid: train, test)")


VAL_FRACTION = 5  # val is one fifth of train
VAL_SEED = 1  # another permutation than the train/test one


def validation_split(train: ArrayDataset, split: str, *, name: str) -> ArrayDataset:
    """``split`` ("fit" or "val") of a data set's train split: val is a seeded fifth of it, fit the rest.

    For choosing settings (steps, resolution, recipe) without looking at the test split: train on
    ``NAME:fit``, measure on ``NAME:val``; then train on ``NAME:train`` and report ``NAME:test`` once.
    """
    part = seeded_split(
        train, "test" if split == "val" else "train", len(train) // VAL_FRACTION, seed=VAL_SEED, name=name
    )
    part.name = f"{name}:{split}"
    return part
