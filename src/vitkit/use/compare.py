"""Two classifiers compared on the same test images: the paired difference, its standard error, McNemar.

Both models see the same images, so the images where both are right (or both wrong) say nothing about
which is better; only the discordant ones do. With ``b`` images only ``a`` gets right and ``c`` only
``b`` gets right, out of ``n``, the difference in top-1 is ``(b - c) / n`` and its standard error
``sqrt(b + c - (b - c)^2 / n) / n`` -- much smaller than that of two independent accuracies.
With several seeds per model, each image's correctness is averaged over the seeds first (seed ``s`` of
``a`` against seed ``s`` of ``b``), so an image is still counted once in the standard error.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import VitkitError


class CompareError(VitkitError):
    """Per-image results that cannot be paired (different lengths, no images, no seeds)."""


@dataclass(frozen=True)
class Paired:
    """One seed of ``a`` against one seed of ``b`` on the same ``n`` images."""

    n: int
    top1_a: float
    top1_b: float
    only_a: int  # b in McNemar's notation: images a gets right and b gets wrong
    only_b: int  # c: images b gets right and a gets wrong
    diff: float  # top1_a - top1_b
    se: float
    p_mcnemar: float  # exact two-sided McNemar test (binomial on the discordant images)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(a: Sequence[bool], b: Sequence[bool]) -> None:
    if len(a) != len(b):
        raise CompareError(f"paired comparison: {len(a)} results for a but {len(b)} for b; expected the same images")
    if not a:
        raise CompareError("paired comparison: no images")


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: under "equally good", each discordant image is a fair coin."""
    m, k = only_a + only_b, min(only_a, only_b)
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2**m
    return min(1.0, 2 * tail)


def paired(a: Sequence[bool], b: Sequence[bool]) -> Paired:
    """Compare per-image correctness ``a[i]``, ``b[i]`` of two models on the same images."""
    _check(a, b)
    n = len(a)
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    se = math.sqrt(max(only_a + only_b - (only_a - only_b) ** 2 / n, 0.0)) / n
    return Paired(
        n=n,
        top1_a=sum(map(bool, a)) / n,
        top1_b=sum(map(bool, b)) / n,
        only_a=only_a,
        only_b=only_b,
        diff=(only_a - only_b) / n,
        se=se,
        p_mcnemar=mcnemar_exact(only_a, only_b),
    )


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1) of per-seed figures; None for one value (one seed measures no
    spread). The demo, the paired comparison and ``vitkit reproduce`` all report spread over seeds so."""
    return statistics.stdev(values) if len(values) > 1 else None


def mean_std(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (None for a single value) of per-seed figures."""
    return {"mean": statistics.fmean(values), "std": sample_std(values), "seeds": len(values)}


def compare_seeds(a: Sequence[Sequence[bool]], b: Sequence[Sequence[bool]]) -> dict[str, Any]:
    """Seed ``s`` of ``a`` against seed ``s`` of ``b``: each seed's paired figures, and over the seeds the
    mean difference with a standard error over images (each image's difference averaged over the seeds),
    its 95% interval and a two-sided normal p-value."""
    if not a or len(a) != len(b):
        raise CompareError(f"paired comparison: {len(a)} seeds for a but {len(b)} for b; expected the same, >= 1")
    per_seed = [paired(x, y) for x, y in zip(a, b)]
    n, k = per_seed[0].n, len(a)
    if any(p.n != n for p in per_seed):
        raise CompareError("paired comparison: the seeds were evaluated on different numbers of images")
    d = [sum(int(bool(x[i])) - int(bool(y[i])) for x, y in zip(a, b)) / k for i in range(n)]
    diff = statistics.fmean(d)
    # population variance over images: for one seed this is exactly sqrt(b + c - (b - c)^2 / n) / n
    se = math.sqrt(statistics.fmean((v - diff) ** 2 for v in d) / n)
    p = math.erfc(abs(diff) / se / math.sqrt(2)) if se > 0 else (1.0 if diff == 0 else 0.0)
    return {
        "per_seed": [p_.to_dict() for p_ in per_seed],
        "a": mean_std([p_.top1_a for p_ in per_seed]),
        "b": mean_std([p_.top1_b for p_ in per_seed]),
        "diff": diff,
        "diff_seeds_std": sample_std([p_.diff for p_ in per_seed]),
        "se": se,
        "ci95": [diff - 1.96 * se, diff + 1.96 * se],
        "p": p,
    }
