"""Mean attention distance (paper §4.5, Fig. 7 right; appendix D.8): how far each head looks.

For each head of each layer: the distance in image pixels between a query patch and each key patch,
weighted by the attention weight, averaged over queries and images. The paper's reading: some heads
attend globally from the lowest layers, and the distance grows with depth.

Choice about the class token: it has no position, so its row (as a query) and its column (as a key)
are dropped, and each query's remaining weights are renormalised to sum to 1. Without the
renormalisation a head that parks its attention on the class token would look local (its weighted
distance shrinks towards 0) although it says nothing about distance.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.vit import VisionTransformer


def pixels_per_token(model: VisionTransformer) -> tuple[int, int]:
    """Image pixels (rows, cols) one token covers: the patch size, times the ResNet stem's reduction for hybrids."""
    ph, pw = model.config.patch_size
    r = model.config.resnet.reduction if model.config.resnet is not None else 1
    return (ph * r, pw * r)


def patch_distances(grid: tuple[int, int], pixels: float | tuple[float, float]) -> torch.Tensor:
    """Euclidean distance in pixels between every pair of patch centres, ``(gh*gw, gh*gw)``, raster order."""
    py, px = (pixels, pixels) if isinstance(pixels, (int, float)) else pixels
    ys, xs = torch.meshgrid(torch.arange(grid[0]) * float(py), torch.arange(grid[1]) * float(px), indexing="ij")
    pos = torch.stack([ys.reshape(-1), xs.reshape(-1)], dim=1).double()
    return torch.cdist(pos, pos)


def mean_attention_distance(
    attentions: Sequence[torch.Tensor | np.ndarray],
    grid: tuple[int, int],
    pixels_per_token: float | tuple[float, float],
    num_prefix: int,
) -> np.ndarray:
    """Mean attention distance in pixels per layer and head, ``(L, H)``, averaged over queries and images.

    ``attentions``: one ``(B, H, T, T)`` weight tensor per layer, ``T = num_prefix + gh*gw``. Only patch
    tokens count: prefix (class-token) rows and columns are dropped and each query's remaining weights
    renormalised (see the module docstring).
    """
    dist = patch_distances(grid, pixels_per_token)
    # one layer at a time: stacking all layers in float64 would hold ~1.4 GB for 32 ViT-B/16 images
    return np.stack([_layer_distance(_patch_weights(a, num_prefix), dist) for a in attentions])


def _patch_weights(att: torch.Tensor | np.ndarray, num_prefix: int) -> torch.Tensor:
    """One layer's weights among patch tokens only, in float64: prefix rows and columns dropped, each
    query's remaining weights renormalised to sum to 1 (see the module docstring)."""
    att = torch.as_tensor(att).detach().cpu().double()[..., num_prefix:, num_prefix:]
    return att / att.sum(dim=-1, keepdim=True).clamp_min(1e-12)


def _layer_distance(att: torch.Tensor, dist: torch.Tensor) -> np.ndarray:
    if att.shape[-1] != dist.shape[0]:
        raise ValueError(
            f"mean_attention_distance: {att.shape[-1]} patch tokens do not match a grid of {dist.shape[0]}"
        )
    per_query = (att * dist).sum(dim=-1)  # (B, H, N)
    return per_query.mean(dim=(0, 2)).numpy()


@torch.no_grad()
def _attention_batch(model: VisionTransformer, batch: torch.Tensor) -> tuple[list[torch.Tensor], tuple[int, int]]:
    out = model.forward_intermediates(batch, attention=True)
    return [a.float().cpu() for a in out["attention"]], out["grid"]


def iter_attention(
    model: torch.nn.Module, images: torch.Tensor, batch_size: int = 32, what: str = "iter_attention"
) -> Iterator[tuple[list[torch.Tensor], tuple[int, int]]]:
    """Run the model over ``images`` in batches (eval mode, no gradients); yield (per-layer attention, grid).

    Batches keep memory bounded: all the attention of 128 ViT-B/16 images would take ~3 GB.
    The model's training flag is restored afterwards.
    """
    if not isinstance(model, VisionTransformer):
        raise ValueError(
            f"{what}: expected a VisionTransformer, got {type(model).__name__} (a BiT ResNet has no attention)"
        )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            yield _attention_batch(model, images[start : start + batch_size].to(device))
    finally:
        model.train(was_training)


def attention_statistics(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 32) -> dict[str, Any]:
    """How far and how spread each head looks, over ``images`` (B, C, H, W), already transformed.

    ``distance``: mean attention distance ``(L, H)`` in pixels; ``entropy``: mean entropy of a query's
    attention over the patches ``(L, H)``, divided by its maximum log(N) (1: spread evenly, 0: one patch);
    ``uniform_distance``: the distance a head spreading its attention evenly would have (the grid's mean
    pairwise distance). A head can be non-local without being uniform: it attends by content.
    """
    dist_total, ent_total, count, grid = None, None, 0, None
    for attentions, grid in iter_attention(model, images, batch_size, what="attention_statistics"):
        b = attentions[0].shape[0]  # (the model's fields are read after iter_attention has checked its type)
        prefix, pixels = model.config.num_prefix_tokens, pixels_per_token(model)
        dist = mean_attention_distance(attentions, grid, pixels, prefix) * b
        ent = mean_attention_entropy(attentions, prefix) * b
        dist_total = dist if dist_total is None else dist_total + dist
        ent_total = ent if ent_total is None else ent_total + ent
        count += b
    if dist_total is None:
        raise ValueError("attention_statistics: no images given")
    uniform = float(patch_distances(grid, pixels).mean())
    return {"distance": dist_total / count, "entropy": ent_total / count, "uniform_distance": uniform}


def attention_distance_for(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """Mean attention distance ``(L, H)`` of ``model`` over ``images`` (B, C, H, W), already transformed."""
    if len(images) == 0:
        raise ValueError("attention_distance_for: no images given")
    return attention_statistics(model, images, batch_size)["distance"]


def mean_attention_entropy(attentions: Sequence[torch.Tensor | np.ndarray], num_prefix: int) -> np.ndarray:
    """Entropy of each query's attention over the patch tokens, over log(N), per layer and head ``(L, H)``.

    Prefix rows and columns are dropped and the rest renormalised, as for the distance.
    """
    out = []
    for a in attentions:
        att = _patch_weights(a, num_prefix)
        entropy = -(att * att.clamp_min(1e-300).log()).sum(dim=-1)  # (B, H, N); 0 log 0 = 0
        out.append((entropy / math.log(att.shape[-1])).mean(dim=(0, 2)).numpy())
    return np.stack(out)


def plot_attention_distance(dist: np.ndarray, path: str | Path) -> Path:
    """Write the paper's Fig. 7 (right) as a PNG: one dot per head, mean distance against layer."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    num_layers, num_heads = dist.shape
    layers = np.arange(1, num_layers + 1)
    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot(1, 1, 1)
    for h in range(num_heads):
        ax.scatter(layers, dist[:, h], s=14, label=f"head {h + 1}")
    ax.plot(layers, dist.mean(axis=1), color="black", linewidth=1, label="mean")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Network depth (layer)")
    ax.set_ylabel("Mean attention distance (pixels)")
    ax.set_ylim(bottom=0)
    if num_heads <= 16:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
