"""Names of the hybrid stem's tensors: official (``block1/unit1/conv1/kernel``) and timm
(``patch_embed.backbone.stages.0.blocks.0.conv1.weight``) -> vitkit
(``patch_embed.backbone.stages.0.units.0.conv1.weight``). The timm mapping below the module
(``timm_body_to_vitkit``) serves the BiT classifier's body too."""

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
    """``patch_embed.backbone.stages.0.blocks.1.norm2.weight`` -> ``...stages.0.units.1.gn2.weight``.

    A stem without stages (AugReg's R_Ti_16) is timm's bare stem module: ``patch_embed.backbone.conv.weight``.
    """
    rest = key.removeprefix(PREFIX)
    if rest.startswith(("conv.", "norm.")):
        rest = "stem." + rest
    return PREFIX + timm_body_to_vitkit(rest)


def vitkit_to_timm(key: str, stem_only: bool = False) -> str:
    """The inverse of ``timm_to_vitkit`` (``stem_only``: the backbone is the stem, without stages).

    ``...stages.0.units.1.gn2.weight`` -> ``...stages.0.blocks.1.norm2.weight``.
    """
    rest = vitkit_body_to_timm(key.removeprefix(PREFIX))
    return PREFIX + (rest.removeprefix("stem.") if stem_only else rest)


def timm_body_to_vitkit(rest: str) -> str:
    """A timm ``ResNetV2`` tensor name below its module (``stages.0.blocks.1.norm2.weight``) -> vitkit's
    (``stages.0.units.1.gn2.weight``): the hybrid stem's and the BiT classifier's body alike."""
    for old, new in _TIMM_LAYER.items():
        rest = rest.replace(old, new)
    rest = re.sub(r"\.blocks\.", ".units.", rest)
    return re.sub(r"\.norm(\d)\.", r".gn\1.", rest)


def vitkit_body_to_timm(rest: str) -> str:
    """The inverse of ``timm_body_to_vitkit``."""
    for old, new in _TIMM_LAYER.items():
        rest = rest.replace(new, old)
    rest = re.sub(r"\.units\.", ".blocks.", rest)
    return re.sub(r"\.gn(\d)\.", r".norm\1.", rest)
