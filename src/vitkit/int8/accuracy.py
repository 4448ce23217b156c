"""The int8 model against the float one on the same held-out images: top-1 of each, the drop, its error.

The two models see the same images, so the drop is estimated from the per-image differences (correct in
float minus correct in int8): its standard error is theirs, ``sd / sqrt(n)`` -- much smaller than the error of
either accuracy alone, since both models get most images equally right or wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Comparison:
    """Accuracies in percent; ``drop`` and its ``drop_stderr`` in percentage points; ``agreement``: the share
    of images (percent) both models give the same top-1 class."""

    images: int
    top1_float: float
    top1_int8: float
    drop: float
    drop_stderr: float
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"top-1 on {self.images} held-out images: float {self.top1_float:.2f}%, int8 {self.top1_int8:.2f}%, "
            f"drop {self.drop:+.2f} +- {self.drop_stderr:.2f} points (standard error), same top-1 on "
            f"{self.agreement:.2f}%"
        )


@torch.inference_mode()
def predictions(model: Any, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> tuple[np.ndarray, np.ndarray]:
    """Every image's top-1 class and its label."""
    preds, labels = [], []
    for images, y in batches:
        preds.append(model(images).argmax(1).cpu().numpy())
        labels.append(y.numpy())
    return np.concatenate(preds), np.concatenate(labels)


def compare(float_pred: np.ndarray, int8_pred: np.ndarray, labels: np.ndarray) -> Comparison:
    """The comparison of two models' top-1 predictions on the same labelled images."""
    n = len(labels)
    a, b = (float_pred == labels).astype(np.float64), (int8_pred == labels).astype(np.float64)
    diff = a - b
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    return Comparison(
        images=n,
        top1_float=100 * float(a.mean()),
        top1_int8=100 * float(b.mean()),
        drop=100 * float(diff.mean()),
        drop_stderr=100 * sd / math.sqrt(max(n, 1)),
        agreement=100 * float((float_pred == int8_pred).mean()),
    )
