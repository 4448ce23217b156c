"""timm ``VisionTransformer`` state dicts (``.safetensors`` or ``.pth``/``.bin``) -> vitkit.

timm's names are close to vitkit's (``blocks.i.attn.qkv``...); what differs is the position embedding
(``pos_embed`` -> ``pos_embed.weight``), the exact GELU, and the hybrid stem's layout. The number of heads
is not in the tensors: it is the standard one for the width (head size 64; ViT-H 16 heads) unless given.
"""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import torch

from ..errors import ConfigError
from ..models.config import ModelConfig, ResNetConfig, ViTConfig, config_from_dict
from .architecture import image_size_from_posemb
from .errors import CheckpointError

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
    root = sd.get("patch_embed.backbone.stem.conv.weight", sd.get("patch_embed.backbone.conv.weight"))
    if root is None:  # (the second: a stem without stages, timm's bare stem module)
        return None
    units: dict[int, int] = {}
    for key in sd:
        if m := re.match(r"patch_embed\.backbone\.stages\.(\d+)\.blocks\.(\d+)\.", key):
            units[int(m[1])] = max(units.get(int(m[1]), 0), int(m[2]) + 1)
    width = root.shape[0]
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


# --- writing: vitkit -> timm -------------------------------------------------------------------

# timm ignores safetensors metadata; vitkit reads these back so that what the tensors cannot say (heads,
# GELU kind, LayerNorm eps, a non-square grid, class names) survives the round trip.
META_CONFIG = "vitkit_config"
META_CLASSES = "vitkit_classes"


def check_writable(cfg: ViTConfig, dst: Path) -> None:
    """Refuse, in one line naming the option, what timm's ``VisionTransformer`` cannot hold."""
    if cfg.posemb not in ("learned_1d", "none") or cfg.posemb_at != "stem":
        raise CheckpointError(
            dst,
            f"--to timm: posemb={cfg.posemb!r} at {cfg.posemb_at!r} has no timm equivalent "
            "(timm holds learned_1d or none, at the stem)",
        )
    if cfg.representation_size is not None:
        raise CheckpointError(
            dst,
            f"--to timm: representation_size={cfg.representation_size} (pre-logits layer) has "
            "no place in timm's VisionTransformer; convert with --drop-pre-logits",
        )
    if cfg.resnet is not None and (cfg.resnet.unit != "post_act" or cfg.resnet.padding != "same_tf"):
        raise CheckpointError(dst, "--to timm: a hybrid stem other than the official post_act/same_tf ResNet")


def from_state_dict(sd: dict[str, torch.Tensor], cfg: ViTConfig) -> dict[str, torch.Tensor]:
    """timm names for a vitkit ViT state dict (the inverse of ``to_state_dict``)."""
    from .resnet_names import vitkit_to_timm

    out = {}
    for key, value in sd.items():
        if key == "pos_embed.weight":
            key = "pos_embed"
        elif key.startswith("patch_embed.backbone."):
            key = vitkit_to_timm(key, stem_only=cfg.resnet is not None and not cfg.resnet.num_layers)
        out[key] = value.detach().cpu().contiguous()
    return out


def timm_kwargs(cfg: ViTConfig) -> dict[str, object]:
    """Arguments of ``timm.create_model("vit_...", pretrained=False, **kwargs)`` that build this architecture.

    Hybrids need timm's ``HybridEmbed`` around a ResNetV2 backbone, which ``create_model`` names by variant
    (``vit_base_r50_s16_224``...); only the ViT part is described here.
    """
    kw: dict[str, object] = {
        "img_size": cfg.image_size,
        "patch_size": cfg.patch_size,
        "in_chans": cfg.in_chans,
        "num_classes": cfg.num_classes,
        "embed_dim": cfg.hidden_size,
        "depth": cfg.num_layers,
        "num_heads": cfg.num_heads,
        "mlp_ratio": cfg.mlp_dim / cfg.hidden_size,
        "qkv_bias": cfg.qkv_bias,
    }
    if cfg.classifier == "gap":  # vitkit normalises every token, then averages: timm's fc_norm=False
        kw |= {"class_token": False, "global_pool": "avg", "fc_norm": False}
    if cfg.posemb == "none":
        kw["pos_embed"] = "none"
    if cfg.gelu == "tanh":
        kw["act_layer"] = "gelu_tanh"
    if cfg.layer_norm_eps != 1e-6:  # timm's ViT default
        kw["norm_layer"] = partial(torch.nn.LayerNorm, eps=cfg.layer_norm_eps)
    return kw


def read_metadata(meta: dict[str, str], path: Path) -> tuple[ModelConfig | None, list[str] | None]:
    """The config and class names vitkit stored in a timm-layout file's metadata (``None`` when absent)."""
    try:
        cfg = config_from_dict(json.loads(meta[META_CONFIG])) if META_CONFIG in meta else None
        classes = json.loads(meta[META_CLASSES]) if META_CLASSES in meta else None
    except (json.JSONDecodeError, ConfigError, TypeError) as e:
        raise CheckpointError(path, f"{META_CONFIG} metadata is invalid ({e})") from None
    return cfg, classes
