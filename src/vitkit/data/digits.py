"""digits: scikit-learn's bundled 1,797 8x8 handwritten digits (UCI optdigits test set).

Pixel values 0..16 are scaled to 0..255. Split: seeded permutation (seed 0), 20% (359 images) test, 1,438 train.
"""

from __future__ import annotations

import functools

import numpy as np

from vitkit.data.arrays import ArrayDataset
from vitkit.data.errors import DataError
from vitkit.data.splits import seeded_split

CLASSES = [str(d) for d in range(10)]
TEST_FRACTION = 0.2


def load(split: str, root: str | None = None) -> ArrayDataset:
    """The ``split`` ("train" or "test") as an ArrayDataset of uint8 (N, 8, 8) images; ``root`` is unused."""
    full = _full()
    return seeded_split(full, split, round(TEST_FRACTION * len(full)), seed=0, name="digits")


@functools.lru_cache(maxsize=1)
def _full() -> ArrayDataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("digits: needs scikit-learn; install it with `pip install scikit-learn`") from None
    bunch = load_digits()
    images = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return ArrayDataset(images, bunch.target.astype(np.int64), CLASSES, name="digits")
