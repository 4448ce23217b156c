"""Throughput by alternating rounds: A B C A B C ..., warm-up excluded, median with min and max.

Running the contenders in turn, round after round, spreads slow drifts of the machine (other load,
clock changes, thermal state) over all of them instead of charging them to whichever ran last. Each
sample times enough back-to-back steps to last ``min_sample_s`` (calibrated from the warm-up), so timer
resolution and per-call jitter stay small against the sample. ``--backend auto`` (``use.autobackend``) and
``vitkit bench`` both measure this way.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Stats:
    """Images per second over the rounds, and how many steps each sample timed."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]
    steps_per_sample: int

    def to_dict(self) -> dict[str, object]:
        return {
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "samples": list(self.samples),
            "steps_per_sample": self.steps_per_sample,
        }


class Timed(Protocol):
    """What ``alternate`` times: ``name``, ``images`` per step; ``warm_up`` runs untimed steps and returns
    how many steps make a sample; ``timed(n)`` runs ``n`` steps and returns their seconds. A contender in
    another process (``worker.RemoteContender``) times itself there, so messages are not timed."""

    name: str
    images: int

    def warm_up(self, warmup: int, min_sample_s: float) -> int: ...

    def timed(self, n: int) -> float: ...


@dataclass
class Contender:
    """One thing to time here: ``step()`` processes ``images`` images and returns when they are done."""

    name: str
    step: Callable[[], None]
    images: int
    sync: Callable[[], None] | None = None  # waits for queued device work (CUDA); None on CPU

    def timed(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.step()
        if self.sync is not None:
            self.sync()
        return time.perf_counter() - start

    def warm_up(self, warmup: int, min_sample_s: float, max_steps: int = 1000) -> int:
        """Run ``warmup`` (>= 1) untimed steps; return how many steps make a sample of ``min_sample_s``."""
        per_step = min(self.timed(1) for _ in range(max(warmup, 1)))
        return max(1, min(max_steps, math.ceil(min_sample_s / max(per_step, 1e-9))))


def alternate(
    contenders: Sequence[Timed],
    rounds: int,
    warmup: int = 2,
    min_sample_s: float = 0.5,
    on_sample: Callable[[str, int, float], None] | None = None,
) -> dict[str, Stats]:
    """Warm each contender up, then time ``rounds`` rounds of one sample each, in turn."""
    if rounds < 1:
        raise ValueError(f"rounds: expected >= 1, got {rounds}")
    plan = {c.name: c.warm_up(warmup, min_sample_s) for c in contenders}
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        for c in contenders:
            n = plan[c.name]
            rate = n * c.images / c.timed(n)
            samples[c.name].append(rate)
            if on_sample:
                on_sample(c.name, r, rate)
    return {name: Stats(statistics.median(s), min(s), max(s), tuple(s), plan[name]) for name, s in samples.items()}
