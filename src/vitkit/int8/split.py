"""Calibration images and held-out images from one data spec, disjoint, in one seeded permutation.

The accuracy check must not see the images the quantiser calibrated on: activation ranges fitted to a set
flatter the set. ``DATA`` (e.g. ``fashion-mnist:test`` or an image folder) is permuted with ``seed``; the first
``samples`` images calibrate, the next ``heldout`` (default: all the rest) measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ..data import DataError, open_dataset
from ..data.base import LabeledDataset

MIN_SAMPLES = 10  # fewer calibrate activation ranges (and SmoothQuant's scales) on noise
MIN_HELDOUT = 50  # fewer measure the accuracy drop with a standard error of several points
MAX_HELDOUT = 10_000  # the default cap: enough for a standard error of a few tenths of a point


class _Indexed(LabeledDataset, Dataset):
    """The samples of a map-style data set at ``indices`` (for sets without ``subset``: folders, manifests)."""

    def __init__(self, data: Any, indices: np.ndarray) -> None:
        self.data, self.indices, self.classes = data, indices, list(data.classes)
        self.skip_bad = getattr(data, "skip_bad", False)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.data[int(self.indices[i])]

    def describe(self, index: int) -> str:
        return self.data.describe(int(self.indices[index]))


@dataclass
class Split:
    calibration: LabeledDataset
    heldout: LabeledDataset
    calibration_indices: np.ndarray
    heldout_indices: np.ndarray
    total: int


def split_indices(n: int, samples: int, heldout: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Calibration and held-out indices of a set of ``n`` images (see the module docstring)."""
    order = np.random.default_rng(seed).permutation(n)
    rest = order[samples:]
    return order[:samples], rest[: min(len(rest), heldout or MAX_HELDOUT)]


def _subset(data: Any, indices: np.ndarray, name: str) -> LabeledDataset:
    if hasattr(data, "subset"):
        return data.subset(np.sort(indices), name)
    return _Indexed(data, np.sort(indices))


def open_split(spec: str, samples: int, heldout: int | None = None, seed: int = 0) -> Split:
    """``spec`` opened and split; an empty or too small set is a one-line ``DataError`` naming the option."""
    if samples < MIN_SAMPLES:
        raise DataError(f"--samples {samples}: expected at least {MIN_SAMPLES} calibration images")
    if heldout is not None and heldout < MIN_HELDOUT:
        raise DataError(f"--heldout {heldout}: expected at least {MIN_HELDOUT} held-out images")
    data = open_dataset(spec)
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise DataError(f"--calibrate {spec}: needs a data set with random access (a folder, manifest or built-in)")
    data.validate()
    n = len(data)
    if n == 0:
        raise DataError(f"--calibrate {spec}: no images")
    need = samples + (heldout or MIN_HELDOUT)
    if n < need:
        raise DataError(
            f"--calibrate {spec}: {n} images, too few for --samples {samples} calibration images and "
            f"{heldout or MIN_HELDOUT} held out for the accuracy check ({need})"
        )
    calib, held = split_indices(n, samples, heldout, seed)
    return Split(_subset(data, calib, f"{spec} calibration"), _subset(data, held, f"{spec} held out"), calib, held, n)
