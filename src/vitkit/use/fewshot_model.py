"""Few-shot linear accuracy of a model (paper §5): embed the shots' pool and the test set, then the
closed-form probe of ``use.fewshot`` -- what ``vitkit fewshot`` runs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import DataError
from ..data.samples import dataset_labels, subset
from ..models.info import ImageModel
from .embed import embed_dataset
from .fewshot import run_fewshot, shot_indices


def pool_features(
    model: ImageModel, data: Any, shots: list[int], seeds: int | list[int], batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the training pool; only the rows the draws use are embedded when the
    labels are known without decoding (the other rows stay zero and are never read)."""
    labels = dataset_labels(data)
    if labels is None:
        emb = embed_dataset(model, data, batch_size=batch_size)
        return emb.embeddings, emb.labels
    needed = shot_indices(labels, shots, seeds, len(data.classes))
    feats = np.zeros((len(data), model.config.embed_dim), dtype=np.float32)
    feats[needed] = embed_dataset(model, subset(data, needed), batch_size=batch_size).embeddings
    return feats, labels


def fewshot_of_model(
    model: ImageModel, train: Any, test: Any, shots: list[int], seeds: int, batch_size: int, names: tuple[str, str]
) -> dict[int, dict[str, Any]]:
    """Accuracy per shot count (mean, std and per-seed) of ``model``'s frozen representation: shots drawn
    from ``train``, scored on ``test``; ``names`` (train, test) name them in errors. A class with fewer
    examples than shots, or class lists that differ, is a DataError."""
    train.validate()
    test.validate()
    if list(train.classes) != list(test.classes):
        raise DataError(
            f"{names[1]}: classes differ from {names[0]}'s ({test.classes[:3]}... vs {train.classes[:3]}...)"
        )
    try:
        train_x, train_y = pool_features(model, train, shots, seeds, batch_size)
        test_emb = embed_dataset(model, test, batch_size=batch_size)
        results = run_fewshot(
            train_x, train_y, test_emb.embeddings, test_emb.labels, shots, seeds, num_classes=len(train.classes)
        )
    except ValueError as e:  # a class with fewer examples than shots
        raise DataError(f"{names[0]}: {e}") from None
    return results
