"""What every model kind declares about itself besides its config: ``ModelInfo``, and the ``ImageModel`` protocol.

ViT, BiT, the masked-patch-prediction wrapper and the ONNX runner all carry ``config`` and ``info`` from
construction on; ``vitkit.load`` fills ``info`` from the file (class names, the data transform it was trained
with, where it came from), and predict, export, embed, inspect, eval and ``vitkit.save`` read it there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from ..errors import ConfigError
from .config import BiTConfig, ModelConfig

# the fields that make a variant what its name says (width, depth, heads, MLP, patch, stem); image size,
# classes, dropout and the head are chosen per task and do not change the name (ViT-B/16 at 384 px is ViT-B/16)
_ARCHITECTURE = ("hidden_size", "num_layers", "mlp_dim", "num_heads", "patch_size", "resnet")


@dataclass
class ModelInfo:
    """A model's declared description: its truthful name, class names, data transform and provenance.

    ``transform`` is a ``TransformConfig`` dict (``TransformConfig.to_dict()``); ``source`` the file or name
    the model was loaded from (None: built here); ``extra`` what else a checkpoint carried (JSON-able).
    """

    name: str
    classes: list[str] | None = None
    transform: dict[str, Any] | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def checkpoint_extra(self) -> dict[str, Any]:
        """What ``vitkit.save`` writes as the checkpoint's ``extra`` metadata (the transform among it)."""
        return {**self.extra, **({"transform": self.transform} if self.transform else {})}

    @classmethod
    def from_checkpoint(
        cls, name: str, classes: list[str] | None, extra: dict[str, Any] | None, source: str | None
    ) -> ModelInfo:
        """The info of a model read from a checkpoint whose metadata held ``classes`` and ``extra``."""
        rest = dict(extra or {})
        transform = rest.pop("transform", None)
        return cls(name, list(classes) if classes is not None else None, transform, source, rest)


def model_name(config: ModelConfig) -> str:
    """A truthful name for a model of ``config``: its variant's name while the architecture is the variant's,
    the variant's name with what differs otherwise (``ViT-Ti/16 (hidden_size=64, patch_size=4)``), or the
    architecture's kind where it came from no variant."""
    kind = "BiT ResNet" if isinstance(config, BiTConfig) else "ViT"
    if not config.name:
        return kind
    from .variants import model_config  # deferred: the variant table is only needed for named configs

    try:
        variant = model_config(config.name)
    except ConfigError:  # a name no table knows (a file's name, say): it is all there is to go by
        return config.name
    if type(variant) is not type(config):
        return f"{kind} (not {config.name})"
    fields = ["resnet"] if isinstance(config, BiTConfig) else list(_ARCHITECTURE)
    diff = [f"{f}={_short(getattr(config, f))}" for f in fields if getattr(config, f) != getattr(variant, f)]
    return config.name if not diff else f"{config.name} ({', '.join(diff)})"


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])  # a square patch
    if dataclasses.is_dataclass(value):
        return type(value).__name__
    return str(value)


class DeclaresInfo:
    """Mixin for models: ``classes`` read-only, forwarded to ``info.classes`` (code and checkpoints before
    ``ModelInfo`` used the attribute; ``model.info.classes`` is the one place it lives)."""

    info: ModelInfo

    @property
    def classes(self) -> list[str] | None:
        return self.info.classes


@runtime_checkable
class ImageModel(Protocol):
    """What the use stage needs of a model: ViT, BiT, the MPP wrapper and the ONNX runner all satisfy it.

    ``model(images)`` -> logits (B, num_classes) (the MPP wrapper: its pre-training outputs);
    ``model.embed(images)`` -> the image representation (B, embed_dim); ``config`` is the typed architecture
    (ViTConfig / BiTConfig); ``info`` the declared rest; ``training`` whether it is in training mode. What the
    trainer needs besides is ``vitkit.models.trainable.TrainableModel``.
    """

    config: Any
    info: ModelInfo
    training: bool

    def __call__(self, images: torch.Tensor, *args: Any, **kwargs: Any) -> Any: ...

    def embed(self, images: torch.Tensor) -> torch.Tensor: ...

    def eval(self) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...
