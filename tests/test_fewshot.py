"""Few-shot least squares: equal to scikit-learn's ridge, right on known answers, λ chosen without test data."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from vitkit.use.fewshot import (
    BIAS_VALUE,
    DEFAULT_L2_GRID,
    FALLBACK_L2,
    fewshot_accuracy,
    fit_linear,
    run_fewshot,
    sample_shots,
    select_l2,
    targets,
)


def blobs(rng, num_classes, per_class, dim, spread=0.3):
    centres = rng.normal(size=(num_classes, dim)) * 3
    labels = np.repeat(np.arange(num_classes), per_class)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


def sklearn_design(x, bias_value):
    white = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-5)
    return np.concatenate([white, np.full((len(x), 1), bias_value)], axis=1)


@pytest.mark.parametrize("n, dim", [(60, 8), (12, 40)])  # primal (n >= d) and dual (n < d) forms
@pytest.mark.parametrize("bias_value", [1.0, BIAS_VALUE])
def test_weights_and_predictions_equal_sklearn_ridge(n, dim, bias_value):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, dim)), rng.integers(0, 4, size=n)
    x_test = rng.normal(size=(30, dim))
    probe = fit_linear(x, y, 4, l2=0.7, bias_value=bias_value)
    # the bias is an ordinary (regularised) column on both sides, so no intercept for sklearn
    ridge = Ridge(alpha=0.7, fit_intercept=False).fit(sklearn_design(x, bias_value), targets(y, 4))
    np.testing.assert_allclose(probe.weights, ridge.coef_.T, atol=1e-6)
    test_design = np.concatenate([(x_test - probe.mean) / probe.std, np.full((30, 1), bias_value)], axis=1)
    np.testing.assert_array_equal(probe.predict(x_test), ridge.predict(test_design).argmax(axis=1))


@pytest.mark.parametrize("per_class, dim", [(6, 4), (6, 20)])  # folds solved in primal and in dual form
def test_selection_equals_cross_validation_by_refitting(per_class, dim):
    rng = np.random.default_rng(2)
    x, labels = blobs(rng, 3, per_class, dim, spread=4.0)
    order = rng.permutation(len(labels))
    x, labels = x[order], labels[order]
    grid = [2.0**e for e in (-6, -2, 0, 2, 4, 6, 8, 10)]
    ranks = np.array([np.sum(labels[:i] == labels[i]) for i in range(len(labels))])
    correct = np.zeros(len(grid))
    for fold in range(5):  # min(CV_FOLDS, 6 per class) folds; fold j holds out class-rank j mod 5
        held = ranks % 5 == fold
        assert len(set(np.bincount(labels[held], minlength=3))) == 1  # the same count of each class
        design = sklearn_design(x[~held], BIAS_VALUE)
        mean, std = x[~held].mean(axis=0), x[~held].std(axis=0) + 1e-5
        val = np.concatenate([(x[held] - mean) / std, np.full((held.sum(), 1), BIAS_VALUE)], axis=1)
        for i, l2 in enumerate(grid):
            ridge = Ridge(alpha=l2, fit_intercept=False).fit(design, targets(labels[~held], 3))
            correct[i] += np.sum(ridge.predict(val).argmax(axis=1) == labels[held])
    chosen, selection = select_l2(x, labels, 3, grid)
    np.testing.assert_allclose(selection["cv_accuracy"], correct / len(labels))
    best = correct.max()
    assert chosen == max(l2 for l2, c in zip(grid, correct) if c == best)  # ties: the most regularised
    assert len(set(correct)) > 1  # a case where λ matters
    assert selection["folds"] == 5


def test_one_shot_falls_back_to_big_visions_lambda():
    rng = np.random.default_rng(0)
    x, labels = blobs(rng, 4, 1, 8)
    chosen, selection = select_l2(x, labels, 4)
    assert chosen == FALLBACK_L2 == 2.0**10 and selection["folds"] == 0
    two = select_l2(*blobs(rng, 4, 2, 8), 4)[1]
    assert two["folds"] == 2 and len(two["cv_accuracy"]) == len(DEFAULT_L2_GRID)


def test_separable_clusters_are_classified_perfectly():
    rng = np.random.default_rng(0)
    train_x, train_y = blobs(rng, 5, 20, 16)
    centre_rng = np.random.default_rng(0)  # same centres for the test set
    test_x, test_y = blobs(centre_rng, 5, 20, 16)
    test_x = test_x + 0.1 * rng.normal(size=test_x.shape)
    for shots in (1, 5):
        idx = sample_shots(train_y, shots, seed=0)
        assert fewshot_accuracy(train_x[idx], train_y[idx], test_x, test_y, 5)["accuracy"] == 1.0


def test_random_labels_give_chance_accuracy():
    rng = np.random.default_rng(0)
    train_x, train_y = rng.normal(size=(50, 32)), np.repeat(np.arange(5), 10)
    test_x, test_y = rng.normal(size=(4000, 32)), rng.integers(0, 5, size=4000)
    acc = fewshot_accuracy(train_x, train_y, test_x, test_y, 5)["accuracy"]
    assert abs(acc - 0.2) < 0.04


def test_accepts_torch_tensors():
    rng = np.random.default_rng(0)
    x, y = blobs(rng, 3, 5, 8)
    as_np = fewshot_accuracy(x, y, x, y, 3)
    as_torch = fewshot_accuracy(
        torch.from_numpy(x).float(), torch.from_numpy(y), torch.from_numpy(x).float(), torch.from_numpy(y), 3
    )
    assert as_np["accuracy"] == as_torch["accuracy"] == 1.0 and as_np["l2"] == as_torch["l2"]


def test_lambda_selection_never_looks_at_test_data():
    rng = np.random.default_rng(3)
    train_x, train_y = blobs(rng, 4, 10, 20, spread=8.0)  # overlapping clusters: λ matters
    test_x, test_y = blobs(np.random.default_rng(3), 4, 50, 20, spread=8.0)
    shuffled_y = rng.permutation(test_y)
    base = fewshot_accuracy(train_x, train_y, test_x, test_y, 4)
    shuffled = fewshot_accuracy(train_x, train_y, test_x, shuffled_y, 4)
    other = fewshot_accuracy(train_x, train_y, rng.normal(size=(7, 20)), rng.integers(0, 4, 7), 4)
    assert base["l2"] == shuffled["l2"] == other["l2"] == select_l2(train_x, train_y, 4)[0]
    assert base["selection"] == shuffled["selection"]
    assert len(set(base["selection"]["cv_accuracy"])) > 1  # the grid really is searched

    def best_on(labels):  # what a selection that peeked at the test labels would pick
        return max(
            DEFAULT_L2_GRID, key=lambda l2: fewshot_accuracy(train_x, train_y, test_x, labels, 4, l2)["accuracy"]
        )

    assert best_on(test_y) != best_on(shuffled_y)  # so peeking would have shown up above


def test_a_single_lambda_skips_selection():
    rng = np.random.default_rng(0)
    x, y = blobs(rng, 3, 4, 6)
    result = fewshot_accuracy(x, y, x, y, 3, l2_grid=0.25)
    assert result["l2"] == 0.25 and "selection" not in result


def test_sample_shots_counts_and_determinism():
    labels = np.repeat(np.arange(4), [7, 9, 5, 12])
    idx = sample_shots(labels, 5, seed=1)
    assert len(idx) == 20 and len(set(idx.tolist())) == 20
    assert np.bincount(labels[idx], minlength=4).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(idx, sample_shots(labels, 5, seed=1))
    assert not np.array_equal(idx, sample_shots(labels, 5, seed=2))
    assert set(sample_shots(labels, 2, seed=1).tolist()) <= set(idx.tolist())  # nested across shot counts
    with pytest.raises(ValueError, match="class 2 has 5 examples, fewer than shots=6"):
        sample_shots(labels, 6, seed=0)
    with pytest.raises(ValueError, match="class 4 has 0 examples"):
        sample_shots(labels, 1, seed=0, num_classes=5)


def test_run_fewshot_reports_every_shot_and_seed():
    rng = np.random.default_rng(0)
    train_x, train_y = blobs(rng, 3, 12, 10, spread=1.0)
    test_x, test_y = blobs(np.random.default_rng(0), 3, 20, 10, spread=1.0)
    results = run_fewshot(train_x, train_y, test_x, test_y, shots=(1, 5, 10), seeds=3)
    assert sorted(results) == [1, 5, 10]
    for r in results.values():
        assert len(r["accs"]) == 3 and len(r["l2s"]) == 3
        assert r["mean"] == pytest.approx(np.mean(r["accs"])) and r["std"] == pytest.approx(np.std(r["accs"]))
    assert results == run_fewshot(train_x, train_y, test_x, test_y, shots=(1, 5, 10), seeds=[0, 1, 2])
