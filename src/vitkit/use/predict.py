"""Prediction, and the inference helper eval and embed share: the device a model's inputs go to."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..data import build_transform, load_image
from ..models.info import ImageModel
from ..models.transform import transform_for


def model_device(model: Any) -> torch.device:
    """Where a model's inputs go (an ``OnnxRunner`` says so itself: its ``device``)."""
    if isinstance(model, nn.Module):
        return next(model.parameters()).device
    return torch.device(model.device)


@torch.inference_mode()
def predict_images(
    model: ImageModel, paths: Sequence[str | os.PathLike[str]], k: int = 5, batch_size: int = 32
) -> list[dict[str, Any]]:
    """Top-``k`` classes with probabilities for each image file (``model``: torch, or an ``OnnxRunner``)."""
    transform = build_transform(transform_for(model), train=False)
    names = model.info.classes
    device = model_device(model)
    out: list[dict[str, Any]] = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        x = torch.stack([transform(load_image(p)) for p in chunk]).to(device)
        probs = model(x).float().softmax(-1)
        top = probs.topk(min(k, probs.shape[1]), dim=1)
        for path, p, i in zip(chunk, top.values.tolist(), top.indices.tolist()):
            out.append(
                {
                    "image": str(path),
                    "top": [{"class": names[j] if names else str(j), "index": j, "prob": q} for q, j in zip(p, i)],
                }
            )
    return out
