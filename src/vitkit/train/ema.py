"""Polyak (exponential moving) averaging of weights (paper §5: factor 0.9999 for ImageNet)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * weights`` after every optimizer step.

    The decay is warmed up as ``min(decay, (1 + n) / (10 + n))`` so short runs are not dominated by the
    initial weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_params = [p for p in self.shadow.state_dict().values() if p.dtype.is_floating_point]
        params = [p for p in model.state_dict().values() if p.dtype.is_floating_point]
        torch._foreach_lerp_(ema_params, params, 1.0 - d)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = state["decay"], state["updates"]
        self.shadow.load_state_dict(state["shadow"])
