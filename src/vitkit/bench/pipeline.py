"""Is the input pipeline ever the bottleneck? Loading + augmentation images/s, against the training step.

Two pipelines, each as training uses it (``make_loader(train=True)``, the recipes' default of no worker
processes): Fashion-MNIST as the demo trains on it (in memory, batched transforms at 28 px, flips), and a
folder of JPEGs (decoded per image, Inception crop to 224 px, flips), written here as synthetic photos of
a typical ImageNet size.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data import DataError, TransformConfig, make_loader, open_dataset

JPEG_SIZE = (375, 500)  # ImageNet's most common photo size (height, width)


def write_jpeg_folder(root: str | Path, n: int = 64, classes: int = 2, seed: int = 0) -> Path:
    """``n`` JPEGs of smooth random colour fields plus noise (they decode like photos), ``classes`` folders."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    h, w = JPEG_SIZE
    for i in range(n):
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        coarse = rng.uniform(0, 255, (h // 25 + 1, w // 25 + 1, 3))
        img = np.kron(coarse, np.ones((25, 25, 1)))[:h, :w] + rng.normal(0, 12, (h, w, 3))
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)
    return root


def loader_rate(
    data: Any, cfg: TransformConfig, batch_size: int, batches: int, num_workers: int = 0
) -> dict[str, float]:
    """Images/s of a training loader over ``batches`` batches (the first one, start-up, excluded)."""
    n_avail = len(data) // batch_size
    if n_avail < 2:
        raise DataError(f"{len(data)} images: fewer than two batches of {batch_size}")
    loader = make_loader(data, cfg, batch_size, train=True, num_workers=num_workers)
    it = iter(loader)
    next(it)
    batches = min(batches, n_avail - 1)
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        x, _ = next(it)
        images += len(x)
    return {
        "img_s": images / (time.perf_counter() - start),
        "batch": batch_size,
        "batches": batches,
        "num_workers": num_workers,
    }


def fashion_mnist_rate(batch_size: int = 128, batches: int = 20, num_workers: int = 0) -> dict[str, float]:
    """The demo's pre-training input pipeline (Fashion-MNIST train split, 28 px, flips, RGB)."""
    data = open_dataset("fashion-mnist:train")
    cfg = TransformConfig(image_size=28, in_chans=3, train_crop="none", hflip=True)
    return loader_rate(data, cfg, batch_size, batches, num_workers)


def jpeg_folder_rate(
    root: str | Path, batch_size: int = 16, batches: int = 4, num_workers: int = 0
) -> dict[str, float]:
    """A folder of JPEGs with the paper's training augmentation (Inception crop to 224, flips)."""
    data = open_dataset(str(root))
    return loader_rate(data, TransformConfig(image_size=224), batch_size, batches, num_workers)
