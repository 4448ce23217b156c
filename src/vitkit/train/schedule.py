"""Learning-rate schedule: linear warm-up, then linear or cosine decay (paper §5)."""

from __future__ import annotations

import math


def lr_at(step: int, *, base_lr: float, total_steps: int, warmup_steps: int, kind: str, min_lr: float = 0.0) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total_steps``."""
    warmup = min(warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return base_lr * (step + 1) / warmup
    if kind == "constant":
        return base_lr
    progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
    if kind == "linear":
        return min_lr + (base_lr - min_lr) * (1.0 - progress)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
