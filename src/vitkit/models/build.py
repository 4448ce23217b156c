"""Config -> module: the one place that knows which class builds which config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ModelConfig, ViTConfig
from .variants import model_config

if TYPE_CHECKING:
    from .resnet import BiTResNet
    from .vit import VisionTransformer


def build_model(cfg: ModelConfig) -> VisionTransformer | BiTResNet:
    """The module for a config (its ``info`` declared: the variant's truthful name, nothing loaded yet)."""
    if isinstance(cfg, ViTConfig):
        from .vit import VisionTransformer

        return VisionTransformer(cfg)
    from .resnet import BiTResNet

    return BiTResNet(cfg)


def create_model(name: str, **overrides: Any) -> VisionTransformer | BiTResNet:
    """Build a named variant, e.g. ``create_model("ViT-B/16", num_classes=10, image_size=384)``."""
    return build_model(model_config(name, **overrides))
