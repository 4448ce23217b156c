"""Nested subsets of a data set: ``SPEC@N`` is the first ``N`` images of one fixed permutation of ``SPEC``.

The permutation is seeded once (seed 0) and independent of ``N``, so ``fashion-mnist:train@1000`` is
contained in ``fashion-mnist:train@4000``: the paper's nested pre-training subsets (§4.2, Fig. 3/4).
"""

from __future__ import annotations

import re

import numpy as np

from vitkit.data.base import LabeledDataset
from vitkit.data.errors import DataError

_SUBSET = re.compile(r"^(?P<base>.+)@(?P<n>\d+)$")
SUBSET_SEED = 0


def split_subset(spec: str) -> tuple[str, int | None]:
    """``"fashion-mnist:train@1000"`` -> ``("fashion-mnist:train", 1000)``; ``(spec, None)`` without ``@N``."""
    m = _SUBSET.match(spec)
    return (m["base"], int(m["n"])) if m else (spec, None)


def nested_subset(data: LabeledDataset, n: int, spec: str) -> LabeledDataset:
    """The first ``n`` images of ``data`` in the fixed permutation (a data set held in memory)."""
    if not hasattr(data, "subset") or not hasattr(data, "__len__"):
        raise DataError(f"{spec}: @N subsets need an in-memory data set (a built-in one), not {type(data).__name__}")
    if not 0 < n <= len(data):
        raise DataError(f"{spec}: @{n} asks for {n} images; expected 1..{len(data)}")
    order = np.random.default_rng(SUBSET_SEED).permutation(len(data))[:n]
    return data.subset(np.sort(order), spec)
