"""Inspecting a trained ViT (paper §4.5, appendix D.7-D.8): the figures of the paper's §7 as functions.

One idea per file: ``filters`` (principal components of the patch projection), ``posemb_similarity``
(cosine similarity of position embeddings), ``attention_distance`` (how far and how spread each head looks),
``rollout`` (attention maps over the image), ``report`` (all four to PNGs and a JSON).
Every function returns numpy arrays; every ``plot_*`` writes a PNG without touching pyplot's state.
"""

from .attention_distance import (
    attention_distance_for,
    attention_statistics,
    iter_attention,
    mean_attention_distance,
    mean_attention_entropy,
    patch_distances,
    pixels_per_token,
    plot_attention_distance,
)
from .filters import embedding_filters, plot_filters
from .posemb_similarity import plot_position_similarity, position_similarity, similarity_by_relation
from .report import inspect_model
from .rollout import attention_rollout, plot_rollout, rollout_grid, rollout_maps, rollout_matrix, upsample_maps

__all__ = [
    "attention_distance_for",
    "attention_rollout",
    "attention_statistics",
    "embedding_filters",
    "inspect_model",
    "iter_attention",
    "mean_attention_distance",
    "mean_attention_entropy",
    "patch_distances",
    "pixels_per_token",
    "plot_attention_distance",
    "plot_filters",
    "plot_position_similarity",
    "plot_rollout",
    "position_similarity",
    "rollout_grid",
    "rollout_maps",
    "rollout_matrix",
    "similarity_by_relation",
    "upsample_maps",
]
