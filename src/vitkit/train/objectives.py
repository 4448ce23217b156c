"""What a training step minimises. ``classify``: cross-entropy on the labels (paper §5)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .mpp import masked_patch_prediction
from .recipes import Recipe

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]


def classification(label_smoothing: float) -> Objective:
    def loss_fn(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits = model(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
        acc = (logits.argmax(1) == labels).float().mean()
        return loss, {"train_top1": float(acc)}

    return loss_fn


def make_objective(recipe: Recipe) -> Objective:
    if recipe.objective == "mpp":
        return masked_patch_prediction(recipe.mpp_mask_rate)
    return classification(recipe.label_smoothing)
