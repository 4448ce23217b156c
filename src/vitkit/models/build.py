"""Config -> module: the one place that knows which class builds which config."""

from __future__ import annotations

from typing import Any

from torch import nn

from .config import ModelConfig, ViTConfig
from .variants import model_config


def build_model(cfg: ModelConfig) -> nn.Module:
    """The module for a config (its ``info`` declared: the variant's truthful name, nothing loaded yet)."""
    if isinstance(cfg, ViTConfig):
        from .vit import VisionTransformer

        return VisionTransformer(cfg)
    from .resnet import BiTResNet

    return BiTResNet(cfg)


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a named variant, e.g. ``create_model("ViT-B/16", num_classes=10, image_size=384)``."""
    return build_model(model_config(name, **overrides))
