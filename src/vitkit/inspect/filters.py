"""Embedding filters (paper §4.5, Fig. 7 left): the top principal components of the patch projection E.

Each of the D rows of E is a filter over one C x P x P patch; the principal components of those D
filters, drawn as RGB P x P tiles, look like basis functions of fine patch structure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..models.vit import VisionTransformer


def embedding_filters(model: torch.nn.Module, k: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` principal components of the patch projection, ``(k, C, P, P)``, and their explained variance ratio.

    PCA over the D filters (rows of length C*P*P), centred on the mean filter. ``k`` is capped at
    ``min(D, C*P*P)``, the most components there are. Signs are fixed so that each component's
    largest-magnitude entry is positive (PCA alone leaves them arbitrary).
    """
    if not isinstance(model, VisionTransformer):
        raise ValueError(
            f"embedding_filters: expected a VisionTransformer, got {type(model).__name__} "
            "(a BiT ResNet has no patch embedding)"
        )
    weight = model.patch_embed.proj.weight.detach().cpu().double().numpy()
    d, shape = weight.shape[0], weight.shape[1:]
    rows = weight.reshape(d, -1)
    centred = rows - rows.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(k, *vt.shape)
    comps = vt[:k]
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    var = s**2
    ratio = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    return comps.reshape(k, *shape), ratio


def _tile(component: np.ndarray) -> np.ndarray:
    """One component as a displayable (P, P, C) image, min-max normalised to [0, 1]."""
    lo, hi = component.min(), component.max()
    tile = (component - lo) / (hi - lo) if hi > lo else np.zeros_like(component)
    tile = np.transpose(tile, (1, 2, 0))
    return tile[..., 0] if tile.shape[-1] == 1 else tile


def plot_filters(components: np.ndarray, path: str | Path, cols: int = 7) -> Path:
    """Write the components as a PNG grid of tiles (RGB for 3 channels, grey for 1), each min-max normalised."""
    from matplotlib.figure import Figure

    k, c = components.shape[:2]
    if c not in (1, 3):
        raise ValueError(
            f"plot_filters: tiles need 1 or 3 channels, got {c} (a hybrid's projection sees ResNet features)"
        )
    cols = min(cols, k)
    rows = -(-k // cols)
    fig = Figure(figsize=(1.2 * cols, 1.2 * rows + 0.4))
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_axis_off()
        if i < k:
            ax.imshow(_tile(components[i]), cmap="gray" if c == 1 else None, interpolation="nearest")
    fig.suptitle(f"Embedding filters: first {k} principal components")
    fig.savefig(path, dpi=100)
    return Path(path)
