"""Fashion-MNIST (Xiao et al. 2017): 60k/10k 28x28 grey images of 10 kinds of clothing.

Looked for, in order: ``root`` (the files themselves, or ``root/fashion-mnist``, or torchvision's
``root/FashionMNIST/raw``), Debian's ``dataset-fashion-mnist`` package (/usr/share/datasets/fashion-mnist),
``~/.cache/vitkit/FashionMNIST/raw``; failing all, torchvision downloads it into ``~/.cache/vitkit``.
"""

from __future__ import annotations

import os

from vitkit.data.arrays import ArrayDataset
from vitkit.data.errors import DataError, one_line
from vitkit.data.idx import read_idx

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLITS = ("train", "test")
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "vitkit")
_PREFIX = {"train": "train", "test": "t10k"}


def load(split: str, root: str | None = None) -> ArrayDataset:
    """The ``split`` ("train" or "test") as an ArrayDataset of uint8 (N, 28, 28) images."""
    folder = find_folder(root)
    if folder is None:
        folder = _download(root or CACHE_DIR)
    images = read_idx(_file(folder, split, "images-idx3-ubyte"))
    labels = read_idx(_file(folder, split, "labels-idx1-ubyte"))
    return ArrayDataset(images, labels, CLASSES, name=f"fashion-mnist:{split}")


def find_folder(root: str | None = None) -> str | None:
    """The first folder holding all four Fashion-MNIST files (gzipped or not), None if there is none."""
    candidates = []
    if root is not None:
        candidates += [root, os.path.join(root, "fashion-mnist"), os.path.join(root, "FashionMNIST", "raw")]
    candidates += [DEBIAN_DIR, os.path.join(CACHE_DIR, "FashionMNIST", "raw")]
    for folder in candidates:
        if all(_file(folder, s, kind) for s in SPLITS for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")):
            return folder
    return None


def _file(folder: str, split: str, kind: str) -> str | None:
    base = os.path.join(folder, f"{_PREFIX[split]}-{kind}")
    return next((p for p in (base + ".gz", base) if os.path.isfile(p)), None)


def _download(root: str) -> str:
    try:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(root, train=True, download=True)
        FashionMNIST(root, train=False, download=True)
    except Exception as exc:  # no network, a proxy, a mirror down: all end in the same advice
        raise DataError(
            "fashion-mnist: data files not found and the download failed "
            f"({one_line(exc, 100)}); install them with `apt-get install dataset-fashion-mnist` "
            f"or put the four *-ubyte.gz files in {root}"
        ) from None
    folder = os.path.join(root, "FashionMNIST", "raw")
    if find_folder(root) is None:
        raise DataError(
            f"fashion-mnist: download finished but {folder} lacks the files; "
            "install them with `apt-get install dataset-fashion-mnist`"
        )
    return folder
