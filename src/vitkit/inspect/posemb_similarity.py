"""Position-embedding similarity (paper §4.5, Fig. 7 centre): cosine similarity between patch positions.

Drawn as the paper's "grid of grids": tile (r, c) shows how similar the embedding of the patch at row
r, column c is to every other patch's; near patches are alike, and rows and columns show up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..models.vit import VisionTransformer


def position_similarity(model: torch.nn.Module, index: int = 0) -> np.ndarray:
    """Cosine similarity of every patch position's embedding to every other's, ``(gh, gw, gh, gw)``.

    Uses the model's stored grid (``config.grid_size``); class-token rows are excluded. ``index``
    picks the set for ``posemb_at="every_layer"`` (one set per layer). Models without additive
    position embeddings (``posemb`` "none" or "relative") are a ``ValueError``.
    """
    if not isinstance(model, VisionTransformer):
        raise ValueError(
            f"position_similarity: expected a VisionTransformer, got {type(model).__name__} "
            "(a BiT ResNet has no position embeddings)"
        )
    if model.pos_embed is None:
        raise ValueError(f"position_similarity: posemb={model.config.posemb!r} has no additive position embeddings")
    grid = model.config.grid_size
    with torch.no_grad():
        emb = model.pos_embed.embedding(grid, index)[0, model.config.num_prefix_tokens :]
    emb = emb.detach().cpu().double().numpy()
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.maximum(norms, 1e-12)
    return (unit @ unit.T).reshape(*grid, *grid)


def similarity_by_relation(sim: np.ndarray) -> dict[str, float]:
    """Mean cosine similarity of position pairs by how they relate on the grid: the figure as numbers.

    ``neighbours``: pairs one step apart (up, down, left, right); ``far``: pairs at least half the grid's
    longer side apart (Euclidean, in patches); ``mirror``: a patch and its left-right mirror in the same row
    (a model trained with horizontal flips sees the same content at both half of the time).
    """
    gh, gw = sim.shape[:2]
    r1, c1, r2, c2 = (a.reshape(-1) for a in np.indices(sim.shape))
    values = sim.reshape(-1)
    same = (r1 == r2) & (c1 == c2)
    dist = np.hypot(r1 - r2, c1 - c2)
    masks = {
        "neighbours": np.abs(r1 - r2) + np.abs(c1 - c2) == 1,
        "far": (dist >= max(gh, gw) / 2) & ~same,
        "mirror": (r1 == r2) & (c2 == gw - 1 - c1) & (c1 != c2),
    }
    return {name: float(values[m].mean()) if m.any() else float("nan") for name, m in masks.items()}


def _mosaic(sim: np.ndarray, gap: int = 1) -> np.ndarray:
    """Lay the (gh, gw) tiles of (gh, gw) pixels side by side, separated by NaN (drawn blank)."""
    gh, gw = sim.shape[:2]
    tiles = np.full((gh, gw, gh + gap, gw + gap), np.nan)
    tiles[:, :, :gh, :gw] = sim
    # (row, col, y, x) -> (row, y, col, x) so that each tile's pixels sit together
    return tiles.transpose(0, 2, 1, 3).reshape(gh * (gh + gap), gw * (gw + gap))[:-gap, :-gap]


def plot_position_similarity(sim: np.ndarray, path: str | Path) -> Path:
    """Write the grid of grids as a PNG: one small image per patch position, colour scale -1..1 as in the paper."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    gh, gw = sim.shape[:2]
    cmap = colormaps["viridis"].with_extremes(bad="white")
    fig = Figure(figsize=(7, 6.2))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(_mosaic(sim), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([c * (gw + 1) + (gw - 1) / 2 for c in range(gw)], [str(c + 1) for c in range(gw)])
    ax.set_yticks([r * (gh + 1) + (gh - 1) / 2 for r in range(gh)], [str(r + 1) for r in range(gh)])
    ax.tick_params(length=0, labelsize=7)
    ax.set_xlabel("Input patch column")
    ax.set_ylabel("Input patch row")
    ax.set_title("Position embedding similarity")
    fig.colorbar(im, ax=ax, label="Cosine similarity")
    fig.savefig(path, dpi=100)
    return Path(path)
