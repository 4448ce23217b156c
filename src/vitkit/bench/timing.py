"""Throughput by alternating rounds: A B C A B C ..., warm-up excluded, median with min and max.

Running the contenders in turn, round after round, spreads slow drifts of the machine (other load,
clock changes, thermal state) over all of them instead of charging them to whichever ran last. Each
sample times enough back-to-back steps to last ``min_sample_s`` (calibrated from the warm-up), so timer
resolution and per-call jitter stay small against the sample.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    """Images per second over the rounds, and how many steps each sample timed."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]
    steps_per_sample: int

    def to_dict(self) -> dict[str, object]:
        return {"median": self.median, "min": self.min, "max": self.max, "samples": list(self.samples),
                "steps_per_sample": self.steps_per_sample}


@dataclass
class Contender:
    """One thing to time: ``step()`` processes ``images`` images and returns when they are done."""

    name: str
    step: Callable[[], None]
    images: int
    sync: Callable[[], None] | None = None  # waits for queued device work (CUDA); None on CPU


def _timed(c: Contender, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        c.step()
    if c.sync is not None:
        c.sync()
    return time.perf_counter() - start


def warm_up(c: Contender, warmup: int, min_sample_s: float, max_steps: int = 1000) -> int:
    """Run ``warmup`` (>= 1) untimed steps; return how many steps make a sample of ``min_sample_s``."""
    per_step = min(_timed(c, 1) for _ in range(max(warmup, 1)))
    return max(1, min(max_steps, math.ceil(min_sample_s / max(per_step, 1e-9))))


def alternate(contenders: list[Contender], rounds: int, warmup: int = 2, min_sample_s: float = 0.5,
              on_sample: Callable[[str, int, float], None] | None = None) -> dict[str, Stats]:
    """Warm each contender up, then time ``rounds`` rounds of one sample each, in turn."""
    if rounds < 1:
        raise ValueError(f"rounds: expected >= 1, got {rounds}")
    plan = {c.name: warm_up(c, warmup, min_sample_s) for c in contenders}
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        for c in contenders:
            n = plan[c.name]
            rate = n * c.images / _timed(c, n)
            samples[c.name].append(rate)
            if on_sample:
                on_sample(c.name, r, rate)
    return {name: Stats(statistics.median(s), min(s), max(s), tuple(s), plan[name])
            for name, s in samples.items()}
