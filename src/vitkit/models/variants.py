"""Named variants, spelled as in the paper and decoded from one table.

``ViT-B/16`` = Base width/depth/heads/MLP with 16x16 patches; ``R50+ViT-B/16`` = a BiT ResNet-50 stem
(its "extended stage 3" so that the stem alone reduces 16x) with 1x1 patches; ``R+ViT-Ti/16`` = AugReg's
``R_Ti_16``, the ResNet root alone with 8x8 patches; ``BiT-R50x1`` = a BiT
ResNet classifier of depth 50 and width factor 1. Configs only: ``vitkit.models.build`` builds the modules.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConfigError
from .config import BiTConfig, ModelConfig, ResNetConfig, ViTConfig

# name: (hidden_size, num_layers, mlp_dim, num_heads) -- paper Table 1 (+ Ti, S from DeiT / AugReg)
SIZES: dict[str, tuple[int, int, int, int]] = {
    "Ti": (192, 12, 768, 3),
    "S": (384, 12, 1536, 6),
    "B": (768, 12, 3072, 12),
    "L": (1024, 24, 4096, 16),
    "H": (1280, 32, 5120, 16),
}

# (ResNet depth, effective patch) -> units per stage. Stage 4 output reduces 32x; the paper's
# "extended stage 3" (stage 4 removed, its units moved to stage 3) reduces 16x.
HYBRID_STAGES: dict[tuple[int, int], tuple[int, ...]] = {
    (26, 32): (2, 2, 2, 2),
    (50, 16): (3, 4, 9),
    (50, 32): (3, 4, 6, 3),
}
# "R+ViT-Ti/16" (AugReg's R_Ti_16): the root alone, then 8x8 patches. The official config's comment says the
# root "downscales 2x, making /16"; its code (7x7/2 conv, then a 3x3/2 max-pool) downscales 4x, so each token
# sees 32x32 pixels (a 7x7 grid at 224 px), in timm's copy too. vitkit builds what the code does.
STEM_ONLY_PATCH = {16: 8}

BIT_STAGES: dict[int, tuple[int, ...]] = {
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}

REGISTERED = (
    "ViT-Ti/16",
    "ViT-S/16",
    "ViT-S/32",
    "ViT-B/8",
    "ViT-B/16",
    "ViT-B/32",
    "ViT-L/16",
    "ViT-L/32",
    "ViT-H/14",
    "R50+ViT-B/16",
    "R50+ViT-L/32",
    "R26+ViT-B/32",
    "R26+ViT-S/32",
    "R+ViT-Ti/16",
    "BiT-R50x1",
    "BiT-R50x3",
    "BiT-R101x1",
    "BiT-R101x3",
    "BiT-R152x2",
    "BiT-R152x4",
)

_VIT = re.compile(r"^(?:R(?P<depth>\d*)\+)?ViT-(?P<size>Ti|S|B|L|H)/(?P<patch>\d+)$")
_BIT = re.compile(r"^BiT-R(?P<depth>\d+)x(?P<width>\d+)$")


def model_config(name: str, **overrides: Any) -> ModelConfig:
    """The config of a named variant with ``overrides`` (config field names) applied."""
    cfg: ModelConfig
    if m := _VIT.match(name):
        cfg = _vit_config(name, m)
    elif m := _BIT.match(name):
        cfg = _bit_config(name, m)
    else:
        raise ConfigError(f"model: unknown variant {name!r} (known: {', '.join(REGISTERED)})")
    return cfg.replace(**overrides) if overrides else cfg


def _vit_config(name: str, m: re.Match[str]) -> ViTConfig:
    hidden, layers, mlp, heads = SIZES[m["size"]]
    patch = int(m["patch"])
    resnet = None
    if m["depth"] == "" and patch in STEM_ONLY_PATCH:
        resnet, patch = ResNetConfig((), 1), STEM_ONLY_PATCH[patch]
    elif m["depth"] is not None:
        stages = HYBRID_STAGES.get((int(m["depth"] or 0), patch))
        if stages is None:
            known = ", ".join([f"R{d}+ViT-*/{p}" for d, p in HYBRID_STAGES] + ["R+ViT-*/16"])
            raise ConfigError(f"model: no ResNet stem for {name!r} (known: {known})")
        resnet = ResNetConfig(stages, 1)
        patch = 1
    return ViTConfig(
        hidden_size=hidden,
        num_layers=layers,
        mlp_dim=mlp,
        num_heads=heads,
        patch_size=(patch, patch),
        resnet=resnet,
        name=name,
    )


def _bit_config(name: str, m: re.Match[str]) -> BiTConfig:
    stages = BIT_STAGES.get(int(m["depth"]))
    if stages is None:
        raise ConfigError(f"model: no BiT ResNet of depth {m['depth']} (known: {', '.join(map(str, BIT_STAGES))})")
    # the BiT paper's own code pads symmetrically (3 on the root conv, 1 elsewhere), not TF SAME
    return BiTConfig(resnet=ResNetConfig(stages, int(m["width"]), unit="pre_act", padding="fixed"), name=name)


def list_models() -> list[str]:
    """The registered variant names (the grammar decodes others too, e.g. ``ViT-S/8``)."""
    return list(REGISTERED)
