"""Attention rollout (Abnar & Zuidema 2020; paper §4.5 and appendix D.8, Fig. 6 and 14).

Per layer: fuse the heads (mean by default), add the identity for the residual connection,
renormalise each row; multiply the layers' matrices (A_L @ ... @ A_1). The class token's row over the
patch tokens, reshaped to the patch grid and upsampled, is the map over the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .attention_distance import iter_attention

HeadFusion = Literal["mean", "max", "min"]


def _fuse(att: torch.Tensor, head_fusion: HeadFusion, discard_ratio: float) -> torch.Tensor:
    """One layer's (B, H, T, T) weights -> the row-stochastic (B, T, T) matrix of rollout."""
    if head_fusion == "mean":
        fused = att.mean(dim=1)
    elif head_fusion == "max":
        fused = att.amax(dim=1)
    elif head_fusion == "min":
        fused = att.amin(dim=1)
    else:
        raise ValueError(f"head_fusion: expected 'mean', 'max' or 'min', got {head_fusion!r}")
    drop = int(discard_ratio * fused.shape[-1])
    if drop:
        # the weakest links of each query carry mostly noise; zero them before the residual is added
        weakest = fused.argsort(dim=-1)[..., :drop]
        fused = fused.scatter(-1, weakest, 0.0)
    fused = fused + torch.eye(fused.shape[-1], dtype=fused.dtype)
    return fused / fused.sum(dim=-1, keepdim=True)


def rollout_matrix(
    attentions: Sequence[torch.Tensor | np.ndarray], head_fusion: HeadFusion = "mean", discard_ratio: float = 0.0
) -> np.ndarray:
    """The joint attention ``A_L @ ... @ A_1`` over all tokens, ``(B, T, T)``; each ``A_l`` row-stochastic.

    ``attentions``: one ``(B, H, T, T)`` weight tensor per layer, first layer first. ``discard_ratio``
    zeroes that fraction of each query's smallest weights before the identity is added (0: none).
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio: expected a fraction in [0, 1), got {discard_ratio!r}")
    joint = None
    for att in attentions:
        layer = _fuse(torch.as_tensor(att).detach().cpu().double(), head_fusion, discard_ratio)
        joint = layer if joint is None else layer @ joint
    if joint is None:
        raise ValueError("rollout_matrix: no attention layers given")
    return joint.numpy()


def attention_rollout(
    attentions: Sequence[torch.Tensor | np.ndarray],
    num_prefix: int,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
) -> np.ndarray:
    """Rollout map over the patch tokens, ``(B, gh*gw)`` in raster order.

    With a class token (``num_prefix`` > 0): its row of the joint matrix, over the patch columns.
    Without one (``classifier="gap"``, the representation is the mean of all tokens): the mean of all rows.
    """
    joint = rollout_matrix(attentions, head_fusion, discard_ratio)
    rows = joint[:, 0] if num_prefix else joint.mean(axis=1)
    return rows[:, num_prefix:]


def rollout_grid(
    model: torch.nn.Module,
    images: torch.Tensor,
    batch_size: int = 32,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
) -> np.ndarray:
    """Attention rollout of ``model`` on ``images`` (B, C, H, W), on the patch grid: ``(B, gh, gw)``."""
    maps = []
    for attentions, grid in iter_attention(model, images, batch_size, what="rollout_maps"):
        rows = attention_rollout(attentions, model.config.num_prefix_tokens, head_fusion, discard_ratio)
        maps.append(rows.reshape(-1, *grid))
    if not maps:
        raise ValueError("rollout_maps: no images given")
    return np.concatenate(maps)


def upsample_maps(grid_maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly upsample ``(B, gh, gw)`` maps to ``(B, *size)`` and min-max normalise each to [0, 1]."""
    maps = F.interpolate(torch.as_tensor(grid_maps)[:, None].double(), size=size, mode="bilinear", align_corners=False)
    maps = maps[:, 0].numpy()
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1.0), 0.0)


def rollout_maps(
    model: torch.nn.Module,
    images: torch.Tensor,
    batch_size: int = 32,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
) -> np.ndarray:
    """Attention rollout maps at the image size, ``(B, H, W)``, each normalised to [0, 1].

    ``images`` are already transformed for the model. A hybrid's grid is upsampled to the image the same way.
    """
    grid_maps = rollout_grid(model, images, batch_size, head_fusion, discard_ratio)
    return upsample_maps(grid_maps, tuple(images.shape[-2:]))


def _display_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """An image as (H, W, C) or (H, W) floats in [0, 1]: uint8 is divided by 255, floats min-max normalised."""
    img = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)  # CHW -> HWC
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.dtype == np.uint8:
        return img / 255.0
    img = img.astype(np.float64)
    lo, hi = img.min(), img.max()
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def plot_rollout(images: Sequence, maps: np.ndarray, path: str | Path, max_images: int = 8) -> Path:
    """Write a PNG: each image beside the same image overlaid with its rollout map.

    ``images``: (C, H, W) or (H, W, C) tensors/arrays of any size (the map is stretched over the
    image), e.g. the untransformed originals of the same view (same crop).
    """
    from matplotlib.figure import Figure

    n = min(len(images), len(maps), max_images)
    if n == 0:
        raise ValueError("plot_rollout: no images given")
    fig = Figure(figsize=(4.4, 2.2 * n))
    for i in range(n):
        img = _display_image(images[i])
        h, w = img.shape[:2]
        left, right = fig.add_subplot(n, 2, 2 * i + 1), fig.add_subplot(n, 2, 2 * i + 2)
        for ax in (left, right):
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, extent=(0, w, h, 0))
            ax.set_axis_off()
        right.imshow(maps[i], cmap="jet", alpha=0.5, extent=(0, w, h, 0), vmin=0, vmax=1)
    fig.axes[0].set_title("input", fontsize=8)
    fig.axes[1].set_title("attention rollout", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
