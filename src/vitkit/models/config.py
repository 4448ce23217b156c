"""Typed configuration of every model vitkit builds.

One dataclass per architecture, validated once at construction: an impossible combination is a
``ConfigError`` with a one-line message naming the option, never a shape error deep inside torch.
Field names follow the official code where it has one (``hidden_size``, ``mlp_dim``, ``num_layers``,
``classifier``, ``representation_size``...).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_type_hints

from ..errors import ConfigError

Classifier = Literal["token", "gap"]
PosEmb = Literal["none", "learned_1d", "learned_2d", "relative", "sincos_2d"]
PosEmbAt = Literal["stem", "every_layer", "every_layer_shared"]
Gelu = Literal["tanh", "exact"]
ResNetUnit = Literal["post_act", "pre_act"]
ResNetPadding = Literal["same_tf", "fixed"]


def _pair(value: object, name: str) -> tuple[int, int]:
    """``value`` as (height, width) of positive ints (image and patch sizes), or a one-line ConfigError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            return (int(value[0]), int(value[1]))
    raise ConfigError(f"{name}: expected a positive int or a pair of positive ints, got {value!r}")


def _check_literals(obj: Any) -> None:
    hints = get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        allowed = get_args(hints[f.name])
        if allowed and all(isinstance(a, str) for a in allowed):
            if getattr(obj, f.name) not in allowed:
                raise ConfigError(f"{f.name}: expected one of {', '.join(allowed)}, got {getattr(obj, f.name)!r}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name}: expected a positive int, got {value!r}")


def _rate(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ConfigError(f"{name}: expected a rate in [0, 1), got {value!r}")


@dataclass(frozen=True)
class ResNetConfig:
    """A BiT ResNet: GroupNorm + weight-standardised convolutions.

    ``num_layers`` counts bottleneck units per stage; ``()`` is the root alone (7x7/2 conv + 3x3/2 pool).
    ``unit="post_act"`` is the official ViT hybrid's ResNet (v1.5 style units, TF ``SAME`` padding);
    ``unit="pre_act"`` is the BiT paper's ResNetV2 used by the BiT classifiers.
    ``padding`` of the 7x7/2 root conv, the 3x3/2 max-pool and the 3x3 unit convs: ``"same_tf"`` is
    TF/XLA ``SAME`` (asymmetric, as the official ViT code); ``"fixed"`` is symmetric ``(k-1)//2`` zero
    padding, as BiT's published code and checkpoints (big_transfer, timm ``resnetv2_*_bit``) use.
    """

    num_layers: tuple[int, ...] = (3, 4, 9)
    width_factor: float = 1
    unit: ResNetUnit = "post_act"
    padding: ResNetPadding = "same_tf"
    gn_groups: int = 32
    gn_eps: float = 1e-6
    ws_eps: float = 1e-5

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_layers", tuple(int(n) for n in self.num_layers))
        _check_literals(self)
        if any(n <= 0 for n in self.num_layers):
            raise ConfigError(f"resnet.num_layers: expected positive unit counts, got {self.num_layers!r}")
        if self.width_factor <= 0:
            raise ConfigError(f"resnet.width_factor: expected > 0, got {self.width_factor!r}")
        if self.width % self.gn_groups:
            raise ConfigError(
                f"resnet.width_factor: root width {self.width} is not a multiple of gn_groups={self.gn_groups}"
            )

    @property
    def width(self) -> int:
        """Channels of the root convolution."""
        return int(64 * self.width_factor)

    @property
    def out_channels(self) -> int:
        """Channels of the last stage's output (the root's when there are no stages)."""
        if not self.num_layers:
            return self.width
        return self.width * 4 << (len(self.num_layers) - 1)

    @property
    def reduction(self) -> int:
        """Total downsampling: 4x in the root, 2x per stage after the first."""
        return 4 << max(len(self.num_layers) - 1, 0)


@dataclass(frozen=True)
class ViTConfig:
    """Every option of the Vision Transformer (Dosovitskiy et al. 2021) and its ablations."""

    image_size: tuple[int, int] = (224, 224)
    patch_size: tuple[int, int] = (16, 16)
    in_chans: int = 3
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    mlp_dim: int = 3072
    num_classes: int = 1000
    classifier: Classifier = "token"
    representation_size: int | None = None
    posemb: PosEmb = "learned_1d"
    posemb_at: PosEmbAt = "stem"
    dropout_rate: float = 0.0
    attention_dropout_rate: float = 0.0
    drop_path_rate: float = 0.0
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    gelu: Gelu = "tanh"
    resnet: ResNetConfig | None = None
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _pair(self.image_size, "image_size"))
        object.__setattr__(self, "patch_size", _pair(self.patch_size, "patch_size"))
        if isinstance(self.resnet, dict):
            object.__setattr__(self, "resnet", ResNetConfig(**self.resnet))
        _check_literals(self)
        _positive(self, "in_chans", "hidden_size", "num_layers", "num_heads", "mlp_dim")
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ConfigError(f"num_classes: expected an int >= 0 (0 = no head), got {self.num_classes!r}")
        if self.representation_size is not None:
            _positive(self, "representation_size")
        _rate(self, "dropout_rate", "attention_dropout_rate", "drop_path_rate")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size: {self.hidden_size} is not divisible by num_heads={self.num_heads}")
        for axis, (size, patch) in enumerate(zip(self.feature_size, self.patch_size)):
            if size % patch:
                what = "image_size" if self.resnet is None else f"image_size / resnet reduction {self.resnet.reduction}"
                raise ConfigError(f"{what}: {size} (axis {axis}) is not divisible by patch_size={patch}")
        self._check_posemb()

    def _check_posemb(self) -> None:
        if self.posemb in ("none", "relative") and self.posemb_at != "stem":
            raise ConfigError(
                f"posemb_at: {self.posemb!r} position embeddings only exist at 'stem', got {self.posemb_at!r}"
            )
        if self.posemb == "learned_2d" and self.hidden_size % 2:
            raise ConfigError(f"hidden_size: learned_2d position embeddings need an even width, got {self.hidden_size}")
        if self.posemb == "sincos_2d" and self.hidden_size % 4:
            raise ConfigError(
                f"hidden_size: sincos_2d position embeddings need a multiple of 4, got {self.hidden_size}"
            )

    @property
    def feature_size(self) -> tuple[int, int]:
        """Spatial size of what the patch projection sees (the image, or the ResNet feature map)."""
        if self.resnet is None:
            return self.image_size
        r = self.resnet.reduction
        return (-(-self.image_size[0] // r), -(-self.image_size[1] // r))

    @property
    def grid_size(self) -> tuple[int, int]:
        """Patches per column and per row at ``image_size``."""
        return (self.feature_size[0] // self.patch_size[0], self.feature_size[1] // self.patch_size[1])

    @property
    def num_prefix_tokens(self) -> int:
        return 1 if self.classifier == "token" else 0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def embed_dim(self) -> int:
        """Width of the image representation y (after pre-logits)."""
        return self.representation_size or self.hidden_size

    def replace(self, **changes: Any) -> ViTConfig:
        """A copy with ``changes`` applied and validated; unknown names are a ConfigError."""
        return _replace(self, changes)

    def to_dict(self) -> dict[str, Any]:
        return {"arch": "vit", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class BiTConfig:
    """A BiT ResNet classifier (the paper's CNN baselines): ResNetV2 body, global average pool, head."""

    resnet: ResNetConfig = field(default_factory=lambda: ResNetConfig((3, 4, 6, 3), 1, unit="pre_act"))
    image_size: tuple[int, int] = (224, 224)
    in_chans: int = 3
    num_classes: int = 1000
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _pair(self.image_size, "image_size"))
        if isinstance(self.resnet, dict):
            object.__setattr__(self, "resnet", ResNetConfig(**self.resnet))
        _positive(self, "in_chans")
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ConfigError(f"num_classes: expected an int >= 0 (0 = no head), got {self.num_classes!r}")

    @property
    def embed_dim(self) -> int:
        return self.resnet.out_channels

    def replace(self, **changes: Any) -> BiTConfig:
        return _replace(self, changes)

    def to_dict(self) -> dict[str, Any]:
        return {"arch": "bit", **dataclasses.asdict(self)}


ModelConfig = ViTConfig | BiTConfig


_Config = TypeVar("_Config", ViTConfig, BiTConfig)


def _replace(cfg: _Config, changes: dict[str, Any]) -> _Config:
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(f"{unknown[0]}: not an option of {type(cfg).__name__} (options: {', '.join(sorted(names))})")
    return dataclasses.replace(cfg, **changes)


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Rebuild a config written by ``to_dict`` (e.g. from checkpoint metadata)."""
    data = dict(data)
    arch = data.pop("arch", "vit")
    cls: type[ViTConfig] | type[BiTConfig] | None = {"vit": ViTConfig, "bit": BiTConfig}.get(arch)
    if cls is None:
        raise ConfigError(f"arch: expected 'vit' or 'bit', got {arch!r}")
    if isinstance(data.get("resnet"), dict):
        data["resnet"] = ResNetConfig(**data["resnet"])
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{unknown[0]}: not an option of {cls.__name__}")
    return cls(**data)


def config_to_json(cfg: ModelConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)
