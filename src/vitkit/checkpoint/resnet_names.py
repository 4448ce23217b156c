"""Names of the hybrid stem's tensors: official (``block1/unit1/conv1/kernel``) and timm
(``patch_embed.backbone.stages.0.blocks.0.conv1.weight``) -> vitkit
(``patch_embed.backbone.stages.0.units.0.conv1.weight``)."""

from __future__ import annotations

import re

PREFIX = "patch_embed.backbone."
_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias"}
_TIMM_LAYER = {
    "downsample.conv": "conv_proj",
    "downsample.norm": "gn_proj",
    "stem.conv": "conv_root",
    "stem.norm": "gn_root",
}


def official_to_vitkit(key: str) -> str:
    """``block2/unit1/gn_proj/scale`` -> ``patch_embed.backbone.stages.1.units.0.gn_proj.weight``."""
    parts = key.split("/")
    leaf = _LEAF[parts[-1]]
    if m := re.fullmatch(r"block(\d+)", parts[0]):
        unit = int(parts[1].removeprefix("unit"))
        return f"{PREFIX}stages.{int(m[1]) - 1}.units.{unit - 1}.{parts[2]}.{leaf}"
    return f"{PREFIX}{parts[0]}.{leaf}"


def timm_to_vitkit(key: str) -> str:
    """``patch_embed.backbone.stages.0.blocks.1.norm2.weight`` -> ``...stages.0.units.1.gn2.weight``."""
    rest = key.removeprefix(PREFIX)
    for old, new in _TIMM_LAYER.items():
        rest = rest.replace(old, new)
    rest = re.sub(r"\.blocks\.", ".units.", rest)
    rest = re.sub(r"\.norm(\d)\.", r".gn\1.", rest)
    return PREFIX + rest


def vitkit_to_timm(key: str) -> str:
    """The inverse of ``timm_to_vitkit``.

    ``...stages.0.units.1.gn2.weight`` -> ``...stages.0.blocks.1.norm2.weight``.
    """
    rest = key.removeprefix(PREFIX)
    for old, new in _TIMM_LAYER.items():
        rest = rest.replace(new, old)
    rest = re.sub(r"\.units\.", ".blocks.", rest)
    rest = re.sub(r"\.gn(\d)\.", r".norm\1.", rest)
    return PREFIX + rest
