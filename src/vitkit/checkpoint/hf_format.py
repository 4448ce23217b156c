"""Hugging Face transformers ViT folders (``config.json`` + ``model.safetensors``/``pytorch_model.bin``) -> vitkit.

``ViTForImageClassification`` (``vit.`` prefix, ``classifier``) and ``ViTModel`` (its ``pooler`` is the
paper's pre-logits Dense + tanh) are both read; class names come from ``id2label``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..config import ViTConfig
from .errors import CheckpointError

_GELU = {"gelu": "exact", "gelu_pytorch_tanh": "tanh", "gelu_new": "tanh", "gelu_fast": "tanh"}


def read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(folder / "config.json", f"not a readable JSON config ({e})") from None


def weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(folder, "Hugging Face folder without model.safetensors or pytorch_model.bin")


def infer_config(hf: dict[str, Any], sd: dict[str, torch.Tensor], folder: Path) -> tuple[ViTConfig, list[str] | None]:
    if hf.get("model_type") != "vit":
        raise CheckpointError(folder / "config.json", f"model_type {hf.get('model_type')!r} is not 'vit'")
    act = hf.get("hidden_act", "gelu")
    if act not in _GELU:
        raise CheckpointError(folder / "config.json", f"hidden_act {act!r} is not a GELU vitkit knows")
    sd = strip_prefix(sd)
    head = sd.get("classifier.weight")
    pooler = sd.get("pooler.dense.weight")
    classes = None
    if head is not None and "id2label" in hf:
        labels = {int(k): v for k, v in hf["id2label"].items()}
        classes = [labels.get(i, str(i)) for i in range(head.shape[0])]
    cfg = ViTConfig(
        image_size=hf.get("image_size", 224),
        patch_size=hf.get("patch_size", 16),
        in_chans=hf.get("num_channels", 3),
        hidden_size=hf["hidden_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        mlp_dim=hf["intermediate_size"],
        num_classes=0 if head is None else head.shape[0],
        classifier="token",
        representation_size=None if pooler is None else pooler.shape[0],
        qkv_bias=hf.get("qkv_bias", True),
        layer_norm_eps=hf.get("layer_norm_eps", 1e-12),
        gelu=_GELU[act],
        name=folder.name,
    )
    return cfg, classes


def strip_prefix(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("vit."): v for k, v in sd.items()}


def to_state_dict(sd: dict[str, torch.Tensor], cfg: ViTConfig) -> dict[str, torch.Tensor]:
    left = strip_prefix(sd)

    def take(key: str) -> torch.Tensor:
        return left.pop(key)

    out = {
        "cls_token": take("embeddings.cls_token"),
        "pos_embed.weight": take("embeddings.position_embeddings"),
        "patch_embed.proj.weight": take("embeddings.patch_embeddings.projection.weight"),
        "patch_embed.proj.bias": take("embeddings.patch_embeddings.projection.bias"),
        "norm.weight": take("layernorm.weight"),
        "norm.bias": take("layernorm.bias"),
    }
    for i in range(cfg.num_layers):
        p, b = f"encoder.layer.{i}.", f"blocks.{i}."
        att = p + "attention.attention."
        for t in ("weight", "bias"):
            if t == "bias" and not cfg.qkv_bias:
                continue
            out[b + "attn.qkv." + t] = torch.cat([take(f"{att}{n}.{t}") for n in ("query", "key", "value")])
        for src, dst in [
            ("attention.output.dense", "attn.proj"),
            ("intermediate.dense", "mlp.fc1"),
            ("output.dense", "mlp.fc2"),
            ("layernorm_before", "norm1"),
            ("layernorm_after", "norm2"),
        ]:
            out[f"{b}{dst}.weight"] = take(f"{p}{src}.weight")
            out[f"{b}{dst}.bias"] = take(f"{p}{src}.bias")
    if cfg.representation_size is not None:
        out["pre_logits.0.weight"], out["pre_logits.0.bias"] = take("pooler.dense.weight"), take("pooler.dense.bias")
    if cfg.num_classes:
        out["head.weight"], out["head.bias"] = take("classifier.weight"), take("classifier.bias")
    left.pop("embeddings.mask_token", None)  # only used by masked-image-modelling heads
    if left:
        raise ValueError(f"unexpected tensor {sorted(left)[0]!r} in a Hugging Face ViT")
    return out
