"""Few-shot linear evaluation (paper §4.1/§6): closed-form regularised least squares on frozen features.

As big_vision's few-shot evaluator: features are centred and divided by their std (both computed on
the few-shot training set), a constant bias feature is appended, and ridge regression maps them to
{-1, 1}^K targets; the prediction is the argmax. Solving goes through the primal ``(XᵀX + λI)W = XᵀY``
when there are at least as many examples as features, the dual ``W = Xᵀ(XXᵀ + λI)⁻¹Y`` otherwise.

Choice of λ: big_vision uses one fixed λ (2^10); here it is picked from a grid by stratified k-fold
cross-validation within the few-shot training set (k = min(5, shots); each fold holds out the same
number of examples of every class, and the whole pipeline, whitening included, is refitted without
them); ties in held-out accuracy, common with a handful of examples, go to the largest λ. The test
set is never an input of the selection. Why not the closed-form leave-one-out: removing
one example unbalances the classes, and the refitted bias then votes against the held-out class, which
at large λ outweighs the features and steers the choice towards tiny λ. At 1 shot nothing can be held
out, so big_vision's 2^10 is used.

The bias column holds ``bias_value`` (big_vision: 100) and is regularised like every weight; a large
constant makes that penalty on the intercept negligible. Features are centred, so the bias is
orthogonal to them and with balanced classes it never changes the argmax anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_L2_GRID: tuple[float, ...] = tuple(2.0**e for e in range(-10, 11))
BIAS_VALUE = 100.0
CV_FOLDS = 5
FALLBACK_L2 = 2.0**10  # big_vision's fixed λ (configs/common_fewshot.py), when no example can be held out
STD_EPS = 1e-5  # added to the std, as big_vision, so that (near-)constant features stay finite


def _array(x: Any, dtype: Any = np.float64) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def targets(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot labels rescaled to {-1, 1}, ``(n, num_classes)``."""
    labels = _array(labels, np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels: expected values in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    return 2.0 * np.eye(num_classes)[labels] - 1.0


@dataclass
class LinearProbe:
    """A fitted least-squares probe: whitening statistics and weights ``(d + 1, K)``, bias row last."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias_value: float
    l2: float

    def design(self, x: Any) -> np.ndarray:
        """Whitened features with the bias column appended, ``(n, d + 1)``."""
        return _design(_array(x), self.mean, self.std, self.bias_value)

    def scores(self, x: Any) -> np.ndarray:
        """Regression outputs ``(n, K)``; the predicted class is the largest."""
        return self.design(x) @ self.weights

    def predict(self, x: Any) -> np.ndarray:
        """Predicted class of every row of ``x``."""
        return self.scores(x).argmax(axis=1)


def _design(x: np.ndarray, mean: np.ndarray, std: np.ndarray, bias_value: float) -> np.ndarray:
    white = (x - mean) / std
    return np.concatenate([white, np.full((len(x), 1), bias_value)], axis=1)


def _whitened_design(x: Any, bias_value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = _array(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"features: expected a non-empty (n, d) array, got shape {x.shape}")
    mean, std = x.mean(axis=0), x.std(axis=0) + STD_EPS
    return _design(x, mean, std, bias_value), mean, std


def _solve(design: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    n, d = design.shape
    if n >= d:
        return np.linalg.solve(design.T @ design + l2 * np.eye(d), design.T @ y)
    # dual form: an n x n system instead of d x d when examples are fewer than features
    return design.T @ np.linalg.solve(design @ design.T + l2 * np.eye(n), y)


def fit_linear(train_x: Any, train_y: Any, num_classes: int, l2: float, bias_value: float = BIAS_VALUE) -> LinearProbe:
    """Fit the probe in closed form for one ``l2`` (λ > 0)."""
    if not l2 > 0:
        raise ValueError(f"l2: expected a positive regularisation strength, got {l2!r}")
    design, mean, std = _whitened_design(train_x, bias_value)
    return LinearProbe(mean, std, _solve(design, targets(train_y, num_classes), l2), bias_value, float(l2))


def _fold_ids(labels: np.ndarray, folds: int) -> np.ndarray:
    """Fold of each example: its rank among its class's examples, modulo ``folds`` (stratified folds)."""
    order = np.argsort(labels, kind="stable")
    ranks = np.empty_like(labels)
    ranks[order] = np.arange(len(labels)) - np.searchsorted(labels[order], labels[order])
    return ranks % folds


def _validation_scores(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, num_classes: int, grid: list[float], bias_value: float
) -> list[np.ndarray]:
    """Scores ``(m, K)`` on ``val_x`` of the probe fitted on the training part, one per λ of ``grid``.

    One eigendecomposition serves every λ (as big_vision's evaluator): with ``XᵀX = V diag(s) Vᵀ`` the
    weights are ``V diag(1/(s+λ)) VᵀXᵀY``; with ``XXᵀ = Q diag(s) Qᵀ`` (fewer examples than features)
    they are ``XᵀQ diag(1/(s+λ)) QᵀY``. Whitening is recomputed on the training part alone.
    """
    design, mean, std = _whitened_design(train_x, bias_value)
    val = _design(val_x, mean, std, bias_value)
    y = targets(train_y, num_classes)
    if len(design) >= design.shape[1]:
        s, v = np.linalg.eigh(design.T @ design)
        left, right = val @ v, v.T @ (design.T @ y)
    else:
        s, q = np.linalg.eigh(design @ design.T)
        left, right = (val @ design.T) @ q, q.T @ y
    s = np.clip(s, 0.0, None)  # eigh of a Gram matrix can return tiny negatives
    return [(left / (s + l2)) @ right for l2 in grid]


def select_l2(
    train_x: Any,
    train_y: Any,
    num_classes: int,
    l2_grid: Sequence[float] = DEFAULT_L2_GRID,
    bias_value: float = BIAS_VALUE,
) -> tuple[float, dict[str, Any]]:
    """Pick λ from ``l2_grid`` by stratified cross-validation on the training set alone; return it and the scores.

    ``k = min(CV_FOLDS, fewest examples of a class)`` folds; fold j holds out the examples whose rank
    within their class is j mod k, so every fold stays class-balanced. The best held-out accuracy wins;
    among ties the largest λ, the most regularised of equally good probes (a handful of held-out
    examples often ties many λ). With one example of some class there is nothing to hold out:
    ``FALLBACK_L2`` (big_vision's fixed λ) is returned. The second value holds ``folds`` and, when
    cross-validated, ``l2_grid`` and ``cv_accuracy`` (one entry per λ).
    """
    grid = [float(l2) for l2 in l2_grid]
    if not grid or min(grid) <= 0:
        raise ValueError(f"l2_grid: expected positive regularisation strengths, got {list(l2_grid)!r}")
    x, labels = _array(train_x), _array(train_y, np.int64)
    folds = min(CV_FOLDS, int(np.unique(labels, return_counts=True)[1].min()))
    if folds < 2:
        return FALLBACK_L2, {"folds": 0, "note": "a class has a single example: nothing to hold out"}
    fold = _fold_ids(labels, folds)
    correct = np.zeros(len(grid))
    for f in range(folds):
        held = fold == f
        for i, scores in enumerate(_validation_scores(x[~held], labels[~held], x[held], num_classes, grid, bias_value)):
            correct[i] += np.sum(scores.argmax(axis=1) == labels[held])
    accs = correct / len(labels)
    best = max(range(len(grid)), key=lambda i: (accs[i], grid[i]))
    return grid[best], {"folds": folds, "l2_grid": grid, "cv_accuracy": accs.tolist()}


def fewshot_accuracy(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    num_classes: int,
    l2_grid: Sequence[float] | float = DEFAULT_L2_GRID,
    bias_value: float = BIAS_VALUE,
) -> dict[str, Any]:
    """Few-shot linear accuracy: fit on ``(train_x, train_y)``, λ chosen on them alone, score ``test_x``.

    ``l2_grid`` may be a single λ (no selection). Returns ``accuracy``, the chosen ``l2`` and the
    selection's cross-validation scores (``selection``, absent for a single λ).
    """
    result: dict[str, Any] = {}
    if np.ndim(l2_grid) == 0:
        l2 = float(l2_grid)
    else:
        l2, result["selection"] = select_l2(train_x, train_y, num_classes, l2_grid, bias_value)
    probe = fit_linear(train_x, train_y, num_classes, l2, bias_value)
    preds = probe.predict(test_x)
    result.update(accuracy=float(np.mean(preds == _array(test_y, np.int64))), l2=l2)
    return result


def sample_shots(labels: Any, shots: int, seed: int, num_classes: int | None = None) -> np.ndarray:
    """Indices of ``shots`` examples of every class, drawn with ``seed``; grouped by class.

    Classes are ``range(num_classes)`` when given, else those present in ``labels``. Each class is
    permuted once per seed and its first ``shots`` taken (as big_vision), so for one seed the 5-shot
    set contains the 1-shot set. A class with fewer than ``shots`` examples is a ``ValueError``.
    """
    labels = _array(labels, np.int64)
    if shots < 1:
        raise ValueError(f"shots: expected a positive int, got {shots!r}")
    classes = range(num_classes) if num_classes is not None else np.unique(labels)
    rng = np.random.default_rng(seed)
    picked = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < shots:
            raise ValueError(f"sample_shots: class {c} has {len(members)} examples, fewer than shots={shots}")
        picked.append(rng.permutation(members)[:shots])
    return np.concatenate(picked)


def run_fewshot(
    train_feats: Any,
    train_labels: Any,
    test_feats: Any,
    test_labels: Any,
    shots: Sequence[int] = (1, 5, 10, 25),
    seeds: int | Sequence[int] = 3,
    num_classes: int | None = None,
    l2_grid: Sequence[float] | float = DEFAULT_L2_GRID,
) -> dict[int, dict[str, Any]]:
    """Few-shot accuracy for each shot count over several seeds (paper: 1, 5, 10, 25 shots).

    ``train_feats`` is the pool the shots are drawn from. Returns ``{shot: {"mean", "std", "accs", "l2s"}}``
    (``std`` over seeds, population). ``seeds``: a count (``range(seeds)``) or explicit seeds.
    """
    train_x, train_y = _array(train_feats), _array(train_labels, np.int64)
    test_x, test_y = _array(test_feats), _array(test_labels, np.int64)
    if num_classes is None:
        num_classes = int(max(train_y.max(), test_y.max())) + 1
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    results: dict[int, dict[str, Any]] = {}
    for shot in shots:
        runs = []
        for seed in seed_list:
            idx = sample_shots(train_y, shot, seed, num_classes)
            runs.append(fewshot_accuracy(train_x[idx], train_y[idx], test_x, test_y, num_classes, l2_grid))
        accs = [r["accuracy"] for r in runs]
        results[shot] = {
            "mean": float(np.mean(accs)),
            "std": float(np.std(accs)),
            "accs": accs,
            "l2s": [r["l2"] for r in runs],
        }
    return results


def shot_indices(
    labels: Any, shots: Sequence[int], seeds: int | Sequence[int], num_classes: int | None = None
) -> np.ndarray:
    """Sorted indices of every example ``run_fewshot(..., shots, seeds, num_classes)`` draws from a pool
    with these ``labels``: only those need features (the draws depend on the labels and seeds alone)."""
    labels = _array(labels, np.int64)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    picked = [sample_shots(labels, shot, seed, num_classes) for shot in shots for seed in seed_list]
    return np.unique(np.concatenate(picked)) if picked else np.zeros(0, np.int64)
