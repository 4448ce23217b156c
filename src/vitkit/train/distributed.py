"""torch.distributed set-up for ``torchrun``: process group, DDP or FSDP wrapping, rank-0 helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..models.trainable import TrainableModel


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> Dist:
    """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def teardown() -> None:
    """Destroy the process group ``setup`` joined (the ``vitkit train``/``finetune`` commands call it on exit)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of ``rank``'s own random stream in a run seeded ``seed`` (``step``: where it was re-derived).

    Mixed by numpy's SeedSequence, so that no rank of one run meets another rank's or another seed's stream
    (``seed + rank`` would give rank 1 of seed 0 the stream of rank 0 of seed 1).
    """
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> 1)


def seed_per_rank(seed: int, d: Dist, step: int = 0) -> None:
    """Give each rank its own dropout, stochastic-depth and MPP-mask draws (torch's global RNG, all devices).

    Called after the model is initialised (identically on every rank, from ``seed``): without it every rank
    would draw the same masks for its different images. A single process keeps the stream it has.
    """
    if d.enabled:
        torch.manual_seed(rank_seed(seed, d.rank, step))


def gather_objects(obj: Any, d: Dist) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` alone); a collective: every rank must call it."""
    if not d.enabled:
        return [obj]
    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def wrap(model: TrainableModel, d: Dist, device: torch.device, fsdp: bool) -> nn.Module:
    """DDP (or FSDP2 ``fully_shard`` per ``model.fsdp_units()`` when ``fsdp``) around ``model``; the model itself
    when alone."""
    assert isinstance(model, nn.Module)  # a TrainableModel that is a torch module (typing has no intersection)
    if not d.enabled:
        return model
    if fsdp:
        from torch.distributed.fsdp import fully_shard

        for unit in model.fsdp_units():
            fully_shard(unit)
        return fully_shard(model)
    ids = [device.index or 0] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def mean_across(value: float, d: Dist) -> float:
    if not d.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / d.world_size


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()
