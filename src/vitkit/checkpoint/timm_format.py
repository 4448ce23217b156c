"""timm ``VisionTransformer`` state dicts (``.safetensors`` or ``.pth``/``.bin``) -> vitkit.

timm's names are close to vitkit's (``blocks.i.attn.qkv``...); what differs is the position embedding
(``pos_embed`` -> ``pos_embed.weight``), the exact GELU, and the hybrid stem's layout. The number of heads
is not in the tensors: it is the standard one for the width (head size 64; ViT-H 16 heads) unless given.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..config import ResNetConfig, ViTConfig
from .errors import CheckpointError
from .infer import image_size_from_posemb

HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}
_UNSUPPORTED = ("fc_norm.", "norm_pre.", ".ls1.", ".ls2.", "attn_pool.", "reg_token", ".q_norm.", ".k_norm.")


def looks_like(sd: dict[str, torch.Tensor]) -> bool:
    return "patch_embed.proj.weight" in sd and any(k.startswith("blocks.0.attn.qkv") for k in sd)


def infer_config(sd: dict[str, torch.Tensor], path: Path, num_heads: int | None = None) -> ViTConfig:
    for key in sd:
        if any(u in key for u in _UNSUPPORTED):
            raise CheckpointError(path, f"timm feature {key!r} is not part of the paper's ViT (unsupported)")
    hidden, in_chans, ph, pw = sd["patch_embed.proj.weight"].shape
    num_layers = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    heads = num_heads or HEADS_BY_WIDTH.get(hidden) or max(hidden // 64, 1)
    prefix = 1 if "cls_token" in sd else 0
    resnet = _infer_resnet(sd)
    posemb, image_size = "none", (224, 224)
    if "pos_embed" in sd:
        posemb = "learned_1d"
        n = sd["pos_embed"].shape[1] - prefix
        image_size = image_size_from_posemb(n, (ph, pw), resnet, path, "pos_embed (or its missing class-token row)")
    head = sd.get("head.weight")
    rep = sd.get("pre_logits.fc.weight")
    return ViTConfig(
        image_size=image_size,
        patch_size=(ph, pw),
        in_chans=3 if resnet else in_chans,
        hidden_size=hidden,
        num_layers=num_layers,
        num_heads=heads,
        mlp_dim=sd["blocks.0.mlp.fc1.weight"].shape[0],
        num_classes=0 if head is None else head.shape[0],
        classifier="token" if prefix else "gap",
        representation_size=None if rep is None else rep.shape[0],
        posemb=posemb,
        qkv_bias="blocks.0.attn.qkv.bias" in sd,
        layer_norm_eps=1e-6,
        gelu="exact",
        resnet=resnet,
        name=path.name,
    )


def _infer_resnet(sd: dict[str, torch.Tensor]) -> ResNetConfig | None:
    if "patch_embed.backbone.stem.conv.weight" not in sd:
        return None
    units: dict[int, int] = {}
    for key in sd:
        if m := re.match(r"patch_embed\.backbone\.stages\.(\d+)\.blocks\.(\d+)\.", key):
            units[int(m[1])] = max(units.get(int(m[1]), 0), int(m[2]) + 1)
    width = sd["patch_embed.backbone.stem.conv.weight"].shape[0]
    # timm: GroupNorm eps 1e-5; weight standardisation (w-mean)/sqrt(var+1e-8) ~ (w-mean)/(std+0)
    return ResNetConfig(tuple(units[i] for i in sorted(units)), width / 64, gn_eps=1e-5, ws_eps=0.0)


def to_state_dict(sd: dict[str, torch.Tensor], cfg: ViTConfig) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if key == "pos_embed":
            out["pos_embed.weight"] = value
        elif key.startswith("pre_logits.fc."):
            out["pre_logits.0." + key.split(".")[-1]] = value
        elif key.startswith("patch_embed.backbone."):
            from .resnet_names import timm_to_vitkit

            out[timm_to_vitkit(key)] = value
        else:
            out[key] = value
    return out
