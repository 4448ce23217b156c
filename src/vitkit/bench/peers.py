"""The same ViT built by each library, with its own random initialisation, as ``images -> logits``.

Every peer gets the dimensions of a ``Shape``, exact GELU, a class token, learned 1D position
embeddings, qkv bias and no dropout, so that all run the same operations on the same tensor shapes.
Peers are imported only when asked for: a missing library is a clear ``ImportError``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .cases import Shape

PEERS = ("timm", "torchvision", "transformers-sdpa", "transformers-eager")


def build_vitkit(shape: Shape) -> nn.Module:
    from ..models.build import create_model

    return create_model("ViT-Ti/16", **shape.vitkit_overrides())


def build_timm(shape: Shape) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=shape.image_size,
        patch_size=shape.patch_size,
        in_chans=shape.in_chans,
        num_classes=shape.num_classes,
        embed_dim=shape.hidden_size,
        depth=shape.num_layers,
        num_heads=shape.num_heads,
        mlp_ratio=shape.mlp_dim / shape.hidden_size,
        act_layer=nn.GELU,
    )


def build_torchvision(shape: Shape) -> nn.Module:
    from torchvision.models.vision_transformer import VisionTransformer

    if shape.in_chans != 3:
        raise ValueError("torchvision's ViT takes 3-channel images only")
    return VisionTransformer(
        image_size=shape.image_size,
        patch_size=shape.patch_size,
        num_layers=shape.num_layers,
        num_heads=shape.num_heads,
        hidden_dim=shape.hidden_size,
        mlp_dim=shape.mlp_dim,
        num_classes=shape.num_classes,
    )


class _Logits(nn.Module):
    """transformers models return an output object; the benchmark wants the logits tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x).logits


def build_transformers(shape: Shape, attn_implementation: str) -> nn.Module:
    from transformers import ViTConfig, ViTForImageClassification

    cfg = ViTConfig(
        image_size=shape.image_size,
        patch_size=shape.patch_size,
        num_channels=shape.in_chans,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        intermediate_size=shape.mlp_dim,
        hidden_act="gelu",
        layer_norm_eps=1e-6,
        num_labels=shape.num_classes,
        attn_implementation=attn_implementation,
    )
    model = ViTForImageClassification(cfg)
    if model.config._attn_implementation != attn_implementation:  # older transformers ignore the argument
        built = model.config._attn_implementation
        raise RuntimeError(f"transformers built {built!r} attention, not {attn_implementation!r}")
    return _Logits(model)


BUILDERS: dict[str, Callable[[Shape], nn.Module]] = {
    "vitkit": build_vitkit,
    "timm": build_timm,
    "torchvision": build_torchvision,
    "transformers-sdpa": lambda shape: build_transformers(shape, "sdpa"),
    "transformers-eager": lambda shape: build_transformers(shape, "eager"),
}


def build(library: str, shape: Shape, seed: int = 0) -> nn.Module:
    """``library``'s model of ``shape`` (eval mode, float32, CPU), initialised from ``seed``."""
    if library not in BUILDERS:
        raise ValueError(f"library {library!r}: expected one of {', '.join(BUILDERS)}")
    torch.manual_seed(seed)
    return BUILDERS[library](shape).eval()


def import_library(library: str) -> None:
    """Import what ``library`` builds from, so that a memory baseline taken next excludes the import."""
    import importlib

    module = {
        "timm": "timm.models.vision_transformer",
        "torchvision": "torchvision.models.vision_transformer",
        "transformers-sdpa": "transformers",
        "transformers-eager": "transformers",
    }.get(library, "vitkit.models.variants")
    importlib.import_module(module)
    if module == "transformers":
        from transformers import ViTForImageClassification  # noqa: F401 -- the lazy module loads here
