"""Paired comparison of two classifiers on the same images, against hand computations and scipy."""

import math

import pytest

from vitkit.errors import VitkitError
from vitkit.use.compare import CompareError, compare_seeds, mcnemar_exact, paired

# ten images: a is right on 7, b on 5; only a right on images 1, 2, 8 (b = 3), only b on image 3 (c = 1)
A = [1, 1, 1, 0, 0, 1, 1, 0, 1, 1]
B = [1, 0, 0, 1, 0, 1, 1, 0, 0, 1]


def test_paired_matches_a_hand_computation():
    p = paired(A, B)
    assert (p.n, p.only_a, p.only_b) == (10, 3, 1)
    assert p.top1_a == pytest.approx(0.7) and p.top1_b == pytest.approx(0.5)
    assert p.diff == pytest.approx(0.2)
    # sqrt(b + c - (b - c)^2 / n) / n = sqrt(4 - 0.4) / 10
    assert p.se == pytest.approx(math.sqrt(3.6) / 10, abs=1e-12)
    # exact McNemar: 2 * P(X <= 1), X ~ Binomial(4, 1/2) = 2 * (1 + 4) / 16
    assert p.p_mcnemar == pytest.approx(10 / 16, abs=1e-12)


def test_se_is_the_standard_deviation_of_per_image_differences():
    d = [x - y for x, y in zip(A, B)]
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / len(d))  # population sd: the formula's own
    assert paired(A, B).se == pytest.approx(sd / math.sqrt(len(d)), abs=1e-12)


@pytest.mark.parametrize("b,c", [(0, 0), (3, 1), (12, 30), (41, 19), (5, 5)])
def test_mcnemar_exact_equals_scipy_binomial_test(b, c):
    stats = pytest.importorskip("scipy.stats")
    want = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(want, rel=1e-12)


def test_one_seed_compare_equals_paired():
    r = compare_seeds([A], [B])
    p = paired(A, B)
    assert r["diff"] == pytest.approx(p.diff) and r["se"] == pytest.approx(p.se, abs=1e-12)
    assert r["a"] == {"mean": pytest.approx(0.7), "std": None, "seeds": 1}
    assert r["ci95"] == [pytest.approx(0.2 - 1.96 * p.se), pytest.approx(0.2 + 1.96 * p.se)]
    assert r["p"] == pytest.approx(math.erfc(0.2 / p.se / math.sqrt(2)))


def test_two_seeds_average_each_image_before_the_standard_error():
    a2 = [1, 1, 1, 1, 0, 1, 1, 0, 1, 1]  # seed 1 of a: also right on image 3
    b2 = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1]  # seed 1 of b: also right on image 1
    r = compare_seeds([A, a2], [B, b2])
    # per image, the differences of the two seeds averaged by hand
    d = [0, 0.5, 1, -0.5, 0, 0, 0, 0, 1, 0]
    mean = sum(d) / 10
    assert r["diff"] == pytest.approx(mean) == pytest.approx(0.2)
    assert r["se"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in d) / 10 / 10), abs=1e-12)
    assert r["a"]["mean"] == pytest.approx(0.75) and r["a"]["std"] == pytest.approx(math.sqrt(0.005))
    assert r["b"]["mean"] == pytest.approx(0.55) and r["diff_seeds_std"] == pytest.approx(0.0)
    assert [s["only_a"] for s in r["per_seed"]] == [3, 2] and [s["only_b"] for s in r["per_seed"]] == [1, 0]


def test_unpaired_input_is_a_clear_error():
    with pytest.raises(CompareError, match="10 results for a but 9 for b"):
        paired(A, B[:9])
    with pytest.raises(VitkitError, match="no images"):
        paired([], [])
    with pytest.raises(CompareError, match="2 seeds for a but 1 for b"):
        compare_seeds([A, A], [B])
