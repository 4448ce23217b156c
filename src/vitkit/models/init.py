"""Initialisers of the official code (flax defaults), in torch."""

from __future__ import annotations

import math

import torch
from torch import nn

# std of a standard normal truncated to [-2, 2]; flax divides by it so the truncated draw keeps the variance.
_TRUNC_STD = 0.87962566103423978


@torch.no_grad()
def lecun_normal_(weight: torch.Tensor) -> torch.Tensor:
    """flax ``lecun_normal``: truncated normal, variance 1/fan_in (fan_in = all axes but the output)."""
    fan_in = weight[0].numel()
    std = math.sqrt(1.0 / fan_in) / _TRUNC_STD
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


@torch.no_grad()
def xavier_uniform_chunks_(weight: torch.Tensor, chunks: int) -> torch.Tensor:
    """xavier-uniform on each of ``chunks`` equal row blocks (fused q/k/v are three D x D kernels officially)."""
    for part in weight.chunk(chunks, dim=0):
        nn.init.xavier_uniform_(part)
    return weight
