"""Training state on disk: written atomically, read back without executing code.

``last.pt`` holds everything a resumed run needs (model, optimizer, EMA, step, RNG states, best score);
``*.safetensors`` beside it hold the weights alone in vitkit's format, so a run folder is a checkpoint.
A kill at any moment leaves the previous file whole: each write goes to a temporary file first and is
renamed over the old one only when complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)

from ..atomic import write_atomic
from ..checkpoint.errors import CheckpointError

STATE_FILE = "last.pt"


def atomic_torch_save(obj: Any, path: Path) -> None:
    write_atomic(path, lambda f: torch.save(obj, f))


def full_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Model and optimizer state with parameter names as keys, gathered whole (DDP, FSDP or plain)."""
    return get_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def full_model_state(model: nn.Module) -> dict:
    """The whole model state dict on every call (a collective under FSDP: call it on all ranks)."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def restore_state(model: nn.Module, optimizer: torch.optim.Optimizer, model_sd: dict, optim_sd: dict) -> None:
    set_state_dict(
        model,
        optimizer,
        model_state_dict=model_sd,
        optim_state_dict=optim_sd,
        options=StateDictOptions(full_state_dict=True),
    )


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def rng_state_of_rank(state: dict[str, Any], rank: int, world_size: int) -> dict[str, Any] | None:
    """This rank's RNG state from a ``last.pt``: its own where the run saved one per rank (``rng_ranks``) with
    the same number of processes; rank 0's (``rng``) for a single process; None where it must be re-derived."""
    ranks = state.get("rng_ranks")
    if ranks is not None and len(ranks) == world_size:
        return ranks[rank]
    return state["rng"] if world_size == 1 else None


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def read_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / STATE_FILE
    if not path.is_file():
        raise CheckpointError(path, "no training state to resume from (was the run started with this --out?)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any failure means the file cannot be resumed from
        raise CheckpointError(
            path, f"unreadable training state ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
