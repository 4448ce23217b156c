"""One call for the paper's §7 figures: filters, position similarity, attention distance, rollout.

``inspect_model`` writes four PNGs and ``inspect.json`` with the numbers behind them; what a model
does not have (a hybrid's projection sees ResNet features, not pixels; posemb "none"/"relative" has
no additive embeddings) is skipped with the reason in the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..models.vit import VisionTransformer
from .attention_distance import attention_statistics, pixels_per_token, plot_attention_distance
from .filters import embedding_filters, plot_filters
from .posemb_similarity import plot_position_similarity, position_similarity, similarity_by_relation
from .rollout import plot_rollout, rollout_grid, upsample_maps

FILES = {
    "filters": "filters.png",
    "position_similarity": "position_similarity.png",
    "attention_distance": "attention_distance.png",
    "attention_rollout": "attention_rollout.png",
}


def _filters(model: VisionTransformer, out: Path, k: int) -> dict[str, Any]:
    if model.config.resnet is not None:
        return {"skipped": "hybrid model: the patch projection acts on ResNet features, not pixels"}
    components, ratio = embedding_filters(model, k)
    plot_filters(components, out / FILES["filters"])
    return {"file": FILES["filters"], "num_components": len(ratio), "explained_variance_ratio": ratio.tolist()}


def _position_similarity(model: VisionTransformer, out: Path) -> dict[str, Any]:
    if model.pos_embed is None:
        return {"skipped": f"posemb={model.config.posemb!r} has no additive position embeddings"}
    sim = position_similarity(model)
    plot_position_similarity(sim, out / FILES["position_similarity"])
    section = {
        "file": FILES["position_similarity"],
        "grid": list(sim.shape[:2]),
        "by_relation": similarity_by_relation(sim),
        "similarity": sim.tolist(),
    }
    if model.config.posemb_at == "every_layer":
        section["note"] = "one set per layer; this is the first layer's"
    return section


def _attention_distance(model: VisionTransformer, images: torch.Tensor, out: Path, batch_size: int) -> dict[str, Any]:
    stats = attention_statistics(model, images, batch_size)
    dist, entropy = stats["distance"], stats["entropy"]
    plot_attention_distance(dist, out / FILES["attention_distance"])
    return {
        "file": FILES["attention_distance"],
        "pixels_per_token": list(pixels_per_token(model)),
        "num_images": len(images),
        "per_head": dist.tolist(),
        "per_layer_mean": dist.mean(axis=1).tolist(),
        "uniform": stats["uniform_distance"],
        "entropy_per_head": entropy.tolist(),
        "entropy_note": "entropy of a query's attention over the patches / log(number of patches): 1 = even",
    }


def _rollout(
    model: VisionTransformer, images: torch.Tensor, shown: Sequence, out: Path, batch_size: int
) -> dict[str, Any]:
    grid_maps = rollout_grid(model, images, batch_size)
    plot_rollout(shown, upsample_maps(grid_maps, tuple(images.shape[-2:])), out / FILES["attention_rollout"])
    return {
        "file": FILES["attention_rollout"],
        "num_images": len(images),
        "grid": list(grid_maps.shape[1:]),
        "maps": grid_maps.tolist(),
        "note": "the class token's row of the joint attention on the patch grid (mean of all rows for gap models), "
        "before upsampling and normalisation",
    }


def inspect_model(
    model: torch.nn.Module,
    images: torch.Tensor,
    out_dir: str | Path,
    *,
    original_images: Sequence | None = None,
    batch_size: int = 32,
    num_filters: int = 28,
    max_rollout: int = 8,
) -> dict[str, Any]:
    """Write ``filters.png``, ``position_similarity.png``, ``attention_distance.png``, ``attention_rollout.png``
    and ``inspect.json`` under ``out_dir``; return the JSON's content.

    ``images``: a (B, C, H, W) float tensor, already transformed for the model; all of them feed the
    mean attention distance (the paper used 128), the first ``max_rollout`` the rollout figure.
    ``original_images``: the same views untransformed, for display (default: ``images``, rescaled).
    """
    if not isinstance(model, VisionTransformer):
        raise ValueError(
            f"inspect_model: expected a VisionTransformer, got {type(model).__name__} "
            "(a BiT ResNet has no attention or position embeddings)"
        )
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError("inspect_model: images must be a (B, C, H, W) float tensor, already transformed")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shown = (images if original_images is None else original_images)[:max_rollout]
    report = {
        "model": model.info.name,  # truthful: the variant, or what differs from it
        "classifier": model.config.classifier,
        "posemb": model.config.posemb,
        "filters": _filters(model, out, num_filters),
        "position_similarity": _position_similarity(model, out),
        "attention_distance": _attention_distance(model, images, out, batch_size),
        "attention_rollout": _rollout(model, images[:max_rollout], shown, out, batch_size),
    }
    (out / "inspect.json").write_text(json.dumps(report, indent=1))
    return report
