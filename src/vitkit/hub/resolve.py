"""A checkpoint name -> the fetched file, and what the registry says of it: the architecture the file must
have, its class names, its provenance (applied by ``Resolved.adopt`` to what the loader read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models.config import ModelConfig, ViTConfig
from .conform import conform
from .errors import HubError
from .labels import class_names, label_set_of_timm
from .names import Ref, lookup, parse
from .registry import Entry
from .sources import Fetched, fetch

# the config fields that make a file the architecture the registry says (the head may differ between copies)
ARCH_FIELDS = ("hidden_size", "num_layers", "patch_size", "mlp_dim", "image_size")


def fetch_name(name: str) -> Fetched:
    """Download (or find in the cache) the file of ``name``; nothing is loaded."""
    return fetch(parse(name))


@dataclass(frozen=True)
class Resolved:
    """A by-name checkpoint fetched to a local file, with what the registry says about it.

    ``vitkit.checkpoint.load`` reads ``path`` (with ``num_heads``: timm files do not store it) and hands the
    result to ``adopt``; the hub itself never reads checkpoints, so it does not depend on the loader.
    """

    name: str
    ref: Ref
    got: Fetched

    @property
    def path(self) -> Any:
        return self.got.path

    @property
    def num_heads(self) -> int | None:
        cfg = self.ref.entry.model_config() if self.ref.entry is not None else None
        return cfg.num_heads if isinstance(cfg, ViTConfig) else None

    def adopt(self, ckpt: Any) -> Any:
        """``ckpt`` (a ``Checkpoint`` read from ``path``) checked against the registry and made the name's model
        (``conform``: the same model from every source), with class names and provenance attached; a file of
        another architecture is refused with both named."""
        hub: dict[str, Any] = {"name": self.name, "source": str(self.got.source)}
        entry = self.ref.entry
        if entry is not None:
            check_architecture(entry, ckpt.config, self.got)
            ckpt = conform(entry, ckpt, str(self.got.path))
            hub |= {"head": entry.head, "classifier": classifier_for(entry)}
        if ckpt.classes is None:
            ckpt.classes = class_names(_label_set(self.ref), ckpt.config.num_classes)
        ckpt.extra = {**ckpt.extra, "hub": {k: v for k, v in hub.items() if v is not None}}
        return ckpt


def resolve(name: str) -> Resolved:
    """Fetch the file of ``name`` (downloaded once, cached, verified) for ``vitkit.load`` to read."""
    ref = parse(name)
    return Resolved(name, ref, fetch(ref))


def classifier_for(entry: Entry) -> str | None:
    """For a feature-extractor name, the registered ImageNet-1k classifier of the same release and architecture."""
    if entry.classifies:
        return None
    name = entry.name.split("@")[0] + "+imagenet2012"  # ViT-B/16:imagenet21k -> ViT-B/16:imagenet21k+imagenet2012
    try:
        return name if lookup(name).classifies else None  # the default entry of ARCH:DATA, as a name without @RES
    except HubError:
        return None


def _label_set(ref: Ref) -> str:
    if ref.entry is not None:
        return ref.entry.labels
    return label_set_of_timm(ref.id) if ref.kind == "timm" else "none"


def check_architecture(entry: Entry, cfg: ModelConfig, got: Fetched) -> None:
    """Refuse a file whose architecture is not the registry's, naming both."""
    want = entry.model_config()
    if type(cfg) is not type(want) or _shape(cfg) != _shape(want):
        raise HubError(
            f"{got.path}: refused for {entry.name}: the registry says {entry.arch} "
            f"({_describe(want)}), the file holds {_describe(cfg)}"
        )


def _shape(cfg: ModelConfig) -> tuple:
    resnet = cfg.resnet  # a BiT's body, a hybrid's stem, or None
    stem = (tuple(resnet.num_layers), resnet.width_factor) if resnet is not None else None
    vit = tuple(getattr(cfg, f) for f in ARCH_FIELDS) if isinstance(cfg, ViTConfig) else None  # BiT: any resolution
    return vit, stem


def _describe(cfg: ModelConfig) -> str:
    parts = []
    if cfg.resnet is not None:
        parts.append(f"ResNet stages {list(cfg.resnet.num_layers)} x{cfg.resnet.width_factor}")
    if isinstance(cfg, ViTConfig):
        parts.append(
            f"hidden {cfg.hidden_size}, {cfg.num_layers} layers, MLP {cfg.mlp_dim}, "
            f"patch {cfg.patch_size[0]}, {cfg.image_size[0]} px"
        )
    return "; ".join(parts) or type(cfg).__name__


__all__ = ["HubError", "Resolved", "check_architecture", "fetch_name", "resolve"]
