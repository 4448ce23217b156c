"""A checkpoint name -> a ``Checkpoint`` read from the fetched file, its architecture checked against the
registry and its class names attached."""

from __future__ import annotations

from typing import Any

from .errors import HubError
from .labels import class_names, label_set_of_timm
from .names import Ref, parse
from .registry import Entry
from .sources import Fetched, fetch

# the config fields that make a file the architecture the registry says (the head may differ between copies)
ARCH_FIELDS = ("hidden_size", "num_layers", "patch_size", "mlp_dim", "image_size")


def fetch_name(name: str) -> Fetched:
    """Download (or find in the cache) the file of ``name``; nothing is loaded."""
    return fetch(parse(name))


def read_by_name(name: str, *, num_heads: int | None = None) -> Any:
    """The ``Checkpoint`` of a by-name checkpoint (see ``vitkit.hub``)."""
    from ..checkpoint.load import read_checkpoint

    ref = parse(name)
    got = fetch(ref)
    if num_heads is None and ref.entry is not None:  # timm files do not say; the registry does
        num_heads = getattr(ref.entry.model_config(), "num_heads", None)
    ckpt = read_checkpoint(got.path, num_heads=num_heads)
    if ref.entry is not None:
        check_architecture(ref.entry, ckpt.config, got)
    if ckpt.classes is None:
        ckpt.classes = class_names(_label_set(ref), getattr(ckpt.config, "num_classes", 0))
    ckpt.extra = {**ckpt.extra, "hub": {"name": name, "source": str(got.source)}}
    return ckpt


def _label_set(ref: Ref) -> str:
    if ref.entry is not None:
        return ref.entry.labels
    return label_set_of_timm(ref.id) if ref.kind == "timm" else "none"


def check_architecture(entry: Entry, cfg: Any, got: Fetched) -> None:
    """Refuse a file whose architecture is not the registry's, naming both."""
    want = entry.model_config()
    if type(cfg) is not type(want) or _shape(cfg) != _shape(want):
        raise HubError(
            f"{got.path}: refused for {entry.name}: the registry says {entry.arch} "
            f"({_describe(want)}), the file holds {_describe(cfg)}"
        )


def _shape(cfg: Any) -> tuple:
    resnet = getattr(cfg, "resnet", None)
    stem = (tuple(resnet.num_layers), resnet.width_factor) if resnet is not None else None
    vit = tuple(getattr(cfg, f) for f in ARCH_FIELDS) if hasattr(cfg, "hidden_size") else None  # BiT: any resolution
    return vit, stem


def _describe(cfg: Any) -> str:
    parts = []
    if getattr(cfg, "resnet", None) is not None:
        parts.append(f"ResNet stages {list(cfg.resnet.num_layers)} x{cfg.resnet.width_factor}")
    if getattr(cfg, "hidden_size", None) is not None:
        parts.append(
            f"hidden {cfg.hidden_size}, {cfg.num_layers} layers, MLP {cfg.mlp_dim}, "
            f"patch {cfg.patch_size[0]}, {cfg.image_size[0]} px"
        )
    return "; ".join(parts) or type(cfg).__name__


__all__ = ["HubError", "check_architecture", "fetch_name", "read_by_name"]
