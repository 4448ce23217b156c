"""Where a model runs: one choice of device for training, evaluation, prediction, embedding and the CLI."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def pick_device(name: str | None) -> torch.device:
    """``name`` as a device (``--device``), or CUDA when available, else the CPU; a ConfigError if CUDA is asked
    for on a machine without it."""
    if name:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
