"""What a collection job computes for each batch of images: the columns it adds to the rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..use.embed import embed_batch


class EmbedHead:
    """``embedding``: the representation y (pre-logits), float32, optionally of unit L2 norm."""

    task = "embed"

    def __init__(self, model: Any, normalize: bool = False) -> None:
        self.model, self.normalize = model, normalize
        self.dim = int(model.config.embed_dim)

    def __call__(self, images: torch.Tensor) -> dict[str, Any]:
        return {"embedding": embed_batch(self.model, images, self.normalize)}

    def empty(self) -> dict[str, Any]:
        return {"embedding": np.zeros((0, self.dim), np.float32)}

    def describe(self) -> dict[str, Any]:
        return {"dim": self.dim, "normalized": self.normalize}


class PredictHead:
    """``top_index``, ``top_class``, ``top_prob``: the ``k`` most probable classes of each image, best first."""

    task = "predict"

    def __init__(self, model: Any, k: int, classes: list[str] | None) -> None:
        self.model = model
        num = int(model.config.num_classes)
        self.k = min(k, num)
        self.classes = list(classes) if classes else [str(i) for i in range(num)]

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> dict[str, Any]:
        top = self.model(images).float().softmax(-1).topk(self.k, dim=1)
        index = top.indices.cpu().numpy().astype(np.int64)
        names = np.array(self.classes, dtype=str)[index] if len(index) else np.zeros((0, self.k), str)
        return {"top_index": index, "top_class": names, "top_prob": top.values.cpu().numpy().astype(np.float32)}

    def empty(self) -> dict[str, Any]:
        return {
            "top_index": np.zeros((0, self.k), np.int64),
            "top_class": np.zeros((0, self.k), str),
            "top_prob": np.zeros((0, self.k), np.float32),
        }

    def describe(self) -> dict[str, Any]:
        return {"k": self.k}


def concat(outputs: list[dict[str, Any]], empty: dict[str, Any]) -> dict[str, Any]:
    """The batches' columns end to end (``empty`` when there were none)."""
    if not outputs:
        return empty
    return {name: np.concatenate([o[name] for o in outputs]) for name in outputs[0]}
