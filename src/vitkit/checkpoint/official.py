"""Official JAX/Flax ``.npz`` checkpoints (google-research/vision_transformer) -> vitkit.

Both layouts are read: the linen names the official code saves today (``LayerNorm_1``,
``MultiHeadDotProductAttention_0``, ``MlpBlock_0``) and the pre-linen names of the published checkpoints
(``MultiHeadDotProductAttention_1``, ``LayerNorm_2``, ``MlpBlock_3``; GroupNorm params shaped (1,1,1,C)).
The architecture is inferred from the tensors: no config file is needed.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..models.config import ResNetConfig, ViTConfig
from .architecture import image_size_from_posemb
from .errors import CheckpointError

_PRE_LINEN = {
    "MultiHeadDotProductAttention_1": "MultiHeadDotProductAttention_0",
    "LayerNorm_2": "LayerNorm_1",
    "MlpBlock_3": "MlpBlock_0",
}


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (pickles refused), with pre-linen names rewritten to linen ones."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise CheckpointError(path, f"not a readable .npz file ({e})") from None
    return {_linen_name(k): v for k, v in raw.items()}


def _linen_name(key: str) -> str:
    parts = key.split("/")
    if len(parts) > 2 and parts[1].startswith("encoderblock_"):
        parts[2] = _PRE_LINEN.get(parts[2], parts[2])
    return "/".join(parts)


def infer_config(params: dict[str, np.ndarray], path: Path) -> ViTConfig:
    """The ViTConfig that the tensors describe (official code: tanh GELU, LayerNorm eps 1e-6)."""
    need = [
        "embedding/kernel",
        "Transformer/encoder_norm/scale",
        "Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel",
        "Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel",
    ]
    for key in need:
        if key not in params:
            raise CheckpointError(path, f"not an official ViT checkpoint: missing {key!r}")
    kh, kw, _, hidden = params["embedding/kernel"].shape
    num_layers = len({k.split("/")[1] for k in params if k.startswith("Transformer/encoderblock_")})
    _, num_heads, _ = params["Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel"].shape
    mlp_dim = params["Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel"].shape[1]
    classifier = "token" if "cls" in params else "gap"
    resnet = _infer_resnet(params)
    posemb = "none"
    image_size: tuple[int, int] = (224, 224)
    if "Transformer/posembed_input/pos_embedding" in params:
        posemb = "learned_1d"
        n = params["Transformer/posembed_input/pos_embedding"].shape[1] - (classifier == "token")
        image_size = image_size_from_posemb(n, (kh, kw), resnet, path, "pos_embedding")
    rep = params.get("pre_logits/kernel")
    head = params.get("head/kernel")
    return ViTConfig(
        image_size=image_size,
        patch_size=(kh, kw),
        in_chans=3 if resnet else params["embedding/kernel"].shape[2],
        hidden_size=hidden,
        num_layers=num_layers,
        num_heads=num_heads,
        mlp_dim=mlp_dim,
        num_classes=0 if head is None else head.shape[1],
        classifier=classifier,
        representation_size=None if rep is None else rep.shape[1],
        posemb=posemb,
        resnet=resnet,
        gelu="tanh",
        layer_norm_eps=1e-6,
        name=path.name,
    )


def _infer_resnet(params: dict[str, np.ndarray]) -> ResNetConfig | None:
    if "conv_root/kernel" not in params:
        return None
    units: dict[int, int] = {}
    for key in params:
        if m := re.match(r"block(\d+)/unit(\d+)/", key):
            units[int(m[1])] = max(units.get(int(m[1]), 0), int(m[2]))
    width = params["conv_root/kernel"].shape[-1]
    return ResNetConfig(tuple(units[i] for i in sorted(units)), width / 64)


def to_state_dict(params: dict[str, np.ndarray], cfg: ViTConfig) -> dict[str, torch.Tensor]:
    """vitkit state dict from official params (every official array is used exactly once)."""
    left = dict(params)

    def take(key: str) -> np.ndarray:
        return left.pop(key)

    d = cfg.hidden_size
    sd: dict[str, np.ndarray] = {
        "patch_embed.proj.weight": take("embedding/kernel").transpose(3, 2, 0, 1),
        "patch_embed.proj.bias": take("embedding/bias"),
        "norm.weight": take("Transformer/encoder_norm/scale"),
        "norm.bias": take("Transformer/encoder_norm/bias"),
    }
    if cfg.classifier == "token":
        sd["cls_token"] = take("cls")
    if cfg.posemb == "learned_1d":
        sd["pos_embed.weight"] = take("Transformer/posembed_input/pos_embedding")
    for i in range(cfg.num_layers):
        p = f"Transformer/encoderblock_{i}/"
        a = p + "MultiHeadDotProductAttention_0/"
        b = f"blocks.{i}."
        qkv = [take(f"{a}{n}/kernel").reshape(d, d).T for n in ("query", "key", "value")]
        sd |= {
            b + "norm1.weight": take(p + "LayerNorm_0/scale"),
            b + "norm1.bias": take(p + "LayerNorm_0/bias"),
            b + "norm2.weight": take(p + "LayerNorm_1/scale"),
            b + "norm2.bias": take(p + "LayerNorm_1/bias"),
            b + "attn.qkv.weight": np.concatenate(qkv, axis=0),
            b + "attn.qkv.bias": np.concatenate([take(f"{a}{n}/bias").reshape(d) for n in ("query", "key", "value")]),
            b + "attn.proj.weight": take(a + "out/kernel").reshape(d, d).T,
            b + "attn.proj.bias": take(a + "out/bias"),
            b + "mlp.fc1.weight": take(p + "MlpBlock_0/Dense_0/kernel").T,
            b + "mlp.fc1.bias": take(p + "MlpBlock_0/Dense_0/bias"),
            b + "mlp.fc2.weight": take(p + "MlpBlock_0/Dense_1/kernel").T,
            b + "mlp.fc2.bias": take(p + "MlpBlock_0/Dense_1/bias"),
        }
    if cfg.representation_size is not None:
        sd["pre_logits.0.weight"] = take("pre_logits/kernel").T
        sd["pre_logits.0.bias"] = take("pre_logits/bias")
    if cfg.num_classes:
        sd["head.weight"] = take("head/kernel").T
        sd["head.bias"] = take("head/bias")
    if cfg.resnet is not None:
        sd |= _resnet_state(left)
    if left:
        raise ValueError(f"unexpected array {sorted(left)[0]!r} in an official ViT checkpoint")
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def _resnet_state(left: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map (and consume) the hybrid stem's arrays: HWIO kernels -> OIHW, GroupNorm (1,1,1,C) -> (C,)."""
    from .resnet_names import official_to_vitkit

    out = {}
    for key in [k for k in left if k.startswith(("conv_root", "gn_root", "block"))]:
        value = left.pop(key)
        value = value.transpose(3, 2, 0, 1) if value.ndim == 4 and key.endswith("kernel") else value.reshape(-1)
        out[official_to_vitkit(key)] = value
    return out


# --- writing: vitkit -> the official linen layout ----------------------------------------------


def check_writable(cfg: ViTConfig, dst: Path) -> None:
    """Refuse, in one line naming the option, what the official code (and its checkpoints) cannot hold."""
    r = cfg.resnet
    problems = [
        (
            cfg.posemb != "learned_1d" or cfg.posemb_at != "stem",
            f"posemb={cfg.posemb!r} at {cfg.posemb_at!r}: the official ViT has learned_1d at the stem only",
        ),
        (cfg.gelu != "tanh", f"gelu={cfg.gelu!r}: the official code uses the tanh approximation"),
        (cfg.layer_norm_eps != 1e-6, f"layer_norm_eps={cfg.layer_norm_eps}: the official code uses 1e-6"),
        (
            cfg.image_size[0] != cfg.image_size[1],
            f"image_size={cfg.image_size}: the .npz stores no grid shape and its readers assume a square one",
        ),
        (
            r is not None and (r.unit, r.padding, r.gn_eps, r.ws_eps) != ("post_act", "same_tf", 1e-6, 1e-5),
            "resnet: the official hybrid stem is post_act, same_tf padding, gn_eps 1e-6, ws_eps 1e-5",
        ),
    ]
    for bad, why in problems:
        if bad:
            raise CheckpointError(dst, f"--to npz: {why}")


def from_state_dict(sd: dict[str, torch.Tensor], cfg: ViTConfig) -> dict[str, np.ndarray]:
    """Official linen params of a vitkit ViT state dict (the inverse of ``to_state_dict``).

    A model without qkv biases gets zero ones: the official attention always has them.
    """
    t = {k: v.detach().cpu().float().numpy() for k, v in sd.items()}
    d, h = cfg.hidden_size, cfg.num_heads
    out = {
        "embedding/kernel": t.pop("patch_embed.proj.weight").transpose(2, 3, 1, 0),
        "embedding/bias": t.pop("patch_embed.proj.bias"),
        "Transformer/encoder_norm/scale": t.pop("norm.weight"),
        "Transformer/encoder_norm/bias": t.pop("norm.bias"),
        "Transformer/posembed_input/pos_embedding": t.pop("pos_embed.weight"),
    }
    if cfg.classifier == "token":
        out["cls"] = t.pop("cls_token")
    for i in range(cfg.num_layers):
        p, a, b = (
            f"Transformer/encoderblock_{i}/",
            f"Transformer/encoderblock_{i}/MultiHeadDotProductAttention_0/",
            f"blocks.{i}.",
        )
        qkv_w = t.pop(b + "attn.qkv.weight")
        qkv_b = t.pop(b + "attn.qkv.bias", np.zeros(3 * d, np.float32))
        for j, n in enumerate(("query", "key", "value")):
            out[f"{a}{n}/kernel"] = qkv_w[j * d : (j + 1) * d].T.reshape(d, h, d // h)
            out[f"{a}{n}/bias"] = qkv_b[j * d : (j + 1) * d].reshape(h, d // h)
        out[a + "out/kernel"] = t.pop(b + "attn.proj.weight").T.reshape(h, d // h, d)
        out[a + "out/bias"] = t.pop(b + "attn.proj.bias")
        for src, dst in [("norm1", "LayerNorm_0"), ("norm2", "LayerNorm_1")]:
            out[f"{p}{dst}/scale"], out[f"{p}{dst}/bias"] = t.pop(f"{b}{src}.weight"), t.pop(f"{b}{src}.bias")
        for src, dst in [("mlp.fc1", "Dense_0"), ("mlp.fc2", "Dense_1")]:
            out[f"{p}MlpBlock_0/{dst}/kernel"] = t.pop(f"{b}{src}.weight").T
            out[f"{p}MlpBlock_0/{dst}/bias"] = t.pop(f"{b}{src}.bias")
    for src, dst in [("pre_logits.0", "pre_logits"), ("head", "head")]:
        if src + ".weight" in t:
            out[dst + "/kernel"], out[dst + "/bias"] = t.pop(src + ".weight").T, t.pop(src + ".bias")
    for key in [k for k in t if k.startswith("patch_embed.backbone.")]:
        value = t.pop(key)
        out[_official_resnet_name(key)] = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value
    if t:
        raise ValueError(f"tensor {min(t)!r} has no place in an official ViT checkpoint")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(out.items())}


def _official_resnet_name(key: str) -> str:
    """``patch_embed.backbone.stages.1.units.0.gn_proj.weight`` -> ``block2/unit1/gn_proj/scale``."""
    rest = key.removeprefix("patch_embed.backbone.")
    *module, leaf = rest.split(".")
    leaf = "kernel" if module[-1].startswith("conv") else {"weight": "scale", "bias": "bias"}[leaf]
    if module[0] == "stages":
        return f"block{int(module[1]) + 1}/unit{int(module[3]) + 1}/{module[4]}/{leaf}"
    return f"{module[0]}/{leaf}"
