"""Derived seeds: every random choice of the data pipeline is a pure function of (seed, epoch, ...)."""

from __future__ import annotations

import torch

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from a tuple of ints (e.g. seed, epoch, stream, index), via SplitMix64.

    Nearby inputs give unrelated outputs, so per-epoch and per-sample streams do not overlap; cheap
    enough (about a microsecond) to call once per sample.
    """
    h = len(parts)
    for part in parts:
        h = _splitmix64(h ^ (int(part) & _MASK))
    return h >> 1


def generator(*parts: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``derive_seed(*parts)``."""
    return torch.Generator().manual_seed(derive_seed(*parts))


def seeded_call(seed: int, fn, *args):
    """``fn(*args)`` with torch's global CPU generator seeded to ``seed``, its state restored after.

    torchvision's random transforms draw from that generator; restoring it keeps the caller's own
    random stream (dropout, init) independent of data loading. ``torch.manual_seed`` would also
    reseed every accelerator backend, at ~100x the cost.
    """
    gen = torch.random.default_generator
    state = gen.get_state()
    gen.manual_seed(seed)
    try:
        return fn(*args)
    finally:
        gen.set_state(state)
