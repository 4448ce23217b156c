"""vitkit's own checkpoint format: safetensors, with the config (and class names...) as metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as serialize

from ..atomic import write_atomic
from ..errors import ConfigError
from ..models.config import ModelConfig, config_from_dict, config_to_json
from .errors import CheckpointError

if TYPE_CHECKING:
    from ..models.resnet import BiTResNet
    from ..models.vit import VisionTransformer

FORMAT = "vitkit"


def save(
    model: VisionTransformer | BiTResNet,
    path: str | os.PathLike[str],
    *,
    classes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` as safetensors with its config as metadata, atomically.

    ``classes`` (default: ``model.info.classes``) and ``extra`` (JSON-able, e.g. the data transform; default
    ``model.info``'s transform and extra) travel in the metadata too.
    """
    classes = classes if classes is not None else model.info.classes
    extra = extra if extra is not None else model.info.checkpoint_extra()
    return save_state(model.state_dict(), model.config, path, classes=classes, extra=extra)


def save_state(
    state_dict: dict[str, torch.Tensor],
    config: ModelConfig,
    path: str | os.PathLike[str],
    *,
    classes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """``save`` for a bare state dict (e.g. gathered from a sharded model)."""
    path = Path(path)
    meta = {"format": FORMAT, "config": config_to_json(config)}
    if classes is not None:
        meta["classes"] = json.dumps(list(classes))
    if extra:
        meta["extra"] = json.dumps(extra)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    write_atomic(path, lambda f: f.write(serialize(tensors, metadata=meta)))
    return path


def safetensors_metadata(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file ({e})") from None


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file ({e})") from None


def read(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """(config, state dict, metadata with ``classes``/``extra`` decoded) of a vitkit file."""
    meta = safetensors_metadata(path)
    try:
        cfg = config_from_dict(json.loads(meta["config"]))
        info = {
            "classes": json.loads(meta["classes"]) if "classes" in meta else None,
            "extra": json.loads(meta["extra"]) if "extra" in meta else {},
        }
    except (KeyError, json.JSONDecodeError, ConfigError, TypeError) as e:
        raise CheckpointError(path, f"vitkit metadata is invalid ({e})") from None
    return cfg, read_safetensors(path), info
