"""Multiply-adds of a model at its resolution, counted on the meta device (nothing is allocated)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .build import build_model
from .config import ModelConfig


def count_macs(cfg: ModelConfig, executed: bool = False) -> int:
    """Multiply-adds of one forward pass of one image at ``cfg.image_size`` (ViT-B/16 at 224: 17.56 G).

    The model's cost as the paper counts it: every token through every block. ``executed=True`` counts
    what vitkit's ``model(x)`` runs instead -- less for class-token ViTs, whose last block runs for the
    class token alone.
    """
    with torch.device("meta"):
        model = build_model(cfg).eval()
        x = torch.empty(1, cfg.in_chans, *cfg.image_size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        if executed:
            model(x)
        else:  # every token through every block (a BiT classifier: the same as model(x))
            model.forward_head(model.forward_features(x))
    return counter.get_total_flops() // 2


def count_params(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in build_model(cfg).parameters())
