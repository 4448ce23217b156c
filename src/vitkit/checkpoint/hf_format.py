"""Hugging Face transformers ViT folders (``config.json`` + ``model.safetensors``/``pytorch_model.bin``) -> vitkit.

``ViTForImageClassification`` (``vit.`` prefix, ``classifier``) and ``ViTModel`` (its ``pooler`` is the
paper's pre-logits Dense + tanh) are both read; class names come from ``id2label``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..models.config import ViTConfig
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
    labels = {int(k): v for k, v in hf.get("id2label", {}).items()}
    if head is not None and labels and not is_default_labels(labels):
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


# --- writing: vitkit -> a Hugging Face folder --------------------------------------------------

_HF_ACT = {"exact": "gelu", "tanh": "gelu_pytorch_tanh"}
_RESAMPLE = {"bilinear": 2, "bicubic": 3}  # PIL codes, as ViTImageProcessor stores them


def check_writable(cfg: ViTConfig, dst: Path) -> None:
    """Refuse, in one line naming the option, what transformers' ``ViTModel`` cannot hold."""
    problems = [
        (cfg.resnet is not None, "a hybrid (ResNet stem) is a different transformers model (ViTHybrid)"),
        (cfg.classifier != "token", f"classifier={cfg.classifier!r}: transformers' ViT classifies the class token"),
        (
            cfg.posemb != "learned_1d" or cfg.posemb_at != "stem",
            f"posemb={cfg.posemb!r} at {cfg.posemb_at!r}: transformers' ViT has learned_1d at the stem only",
        ),
        (
            cfg.representation_size is not None and cfg.num_classes > 0,
            (
                f"representation_size={cfg.representation_size} with a head: ViTForImageClassification has no "
                "pre-logits layer (use --drop-pre-logits, or --num-classes 0 for a ViTModel with its pooler)"
            ),
        ),
    ]
    for bad, why in problems:
        if bad:
            raise CheckpointError(dst, f"--to hf: {why}")


def from_state_dict(sd: dict[str, torch.Tensor], cfg: ViTConfig) -> dict[str, torch.Tensor]:
    """transformers names for a vitkit ViT state dict (the inverse of ``to_state_dict``).

    With a head: ``ViTForImageClassification`` (``vit.`` prefix, ``classifier``); without: ``ViTModel``
    (its ``pooler`` is the pre-logits layer when there is one).
    """
    d = cfg.hidden_size
    prefix = "vit." if cfg.num_classes else ""
    out = {
        "embeddings.cls_token": sd["cls_token"],
        "embeddings.position_embeddings": sd["pos_embed.weight"],
        "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
        "layernorm.weight": sd["norm.weight"],
        "layernorm.bias": sd["norm.bias"],
    }
    for i in range(cfg.num_layers):
        p, b = f"encoder.layer.{i}.", f"blocks.{i}."
        for t in ("weight", "bias"):
            if t == "bias" and not cfg.qkv_bias:
                continue
            for j, n in enumerate(("query", "key", "value")):
                out[f"{p}attention.attention.{n}.{t}"] = sd[f"{b}attn.qkv.{t}"][j * d : (j + 1) * d]
        for dst, src in [
            ("attention.output.dense", "attn.proj"),
            ("intermediate.dense", "mlp.fc1"),
            ("output.dense", "mlp.fc2"),
            ("layernorm_before", "norm1"),
            ("layernorm_after", "norm2"),
        ]:
            out[f"{p}{dst}.weight"], out[f"{p}{dst}.bias"] = sd[f"{b}{src}.weight"], sd[f"{b}{src}.bias"]
    if cfg.representation_size is not None:
        out["pooler.dense.weight"], out["pooler.dense.bias"] = sd["pre_logits.0.weight"], sd["pre_logits.0.bias"]
    out = {prefix + k: v for k, v in out.items()}
    if cfg.num_classes:
        out["classifier.weight"], out["classifier.bias"] = sd["head.weight"], sd["head.bias"]
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}


def config_json(cfg: ViTConfig, classes: list[str] | None) -> dict[str, Any]:
    """``config.json`` of a transformers ViT with this architecture (``id2label`` from ``classes``)."""
    hf: dict[str, Any] = {
        "architectures": ["ViTForImageClassification" if cfg.num_classes else "ViTModel"],
        "model_type": "vit",
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "intermediate_size": cfg.mlp_dim,
        "hidden_act": _HF_ACT[cfg.gelu],
        "hidden_dropout_prob": cfg.dropout_rate,
        "attention_probs_dropout_prob": cfg.attention_dropout_rate,
        "initializer_range": 0.02,
        "layer_norm_eps": cfg.layer_norm_eps,
        "image_size": _int_or_pair(cfg.image_size),
        "patch_size": _int_or_pair(cfg.patch_size),
        "num_channels": cfg.in_chans,
        "qkv_bias": cfg.qkv_bias,
        "encoder_stride": cfg.patch_size[0],
        "torch_dtype": "float32",
    }
    if cfg.representation_size is not None:
        hf |= {"pooler_output_size": cfg.representation_size, "pooler_act": "tanh"}
    if cfg.num_classes:
        names = list(classes) if classes else [f"LABEL_{i}" for i in range(cfg.num_classes)]
        hf["id2label"] = {str(i): name for i, name in enumerate(names)}
        hf["label2id"] = {name: i for i, name in enumerate(names)}
    return hf


def preprocessor_json(transform: Any) -> dict[str, Any]:
    """``preprocessor_config.json`` (a ``ViTImageProcessor``) from vitkit's ``TransformConfig``."""
    h, w = transform.image_size
    return {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True,
        "size": {"height": h, "width": w},
        "resample": _RESAMPLE[transform.interpolation],
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(transform.mean),
        "image_std": list(transform.std),
    }


def _int_or_pair(value: tuple[int, int]) -> int | list[int]:
    return value[0] if value[0] == value[1] else list(value)


def is_default_labels(labels: dict[int, str]) -> bool:
    """transformers' placeholder names (``LABEL_0``...) say nothing about the classes."""
    return all(name == f"LABEL_{i}" for i, name in labels.items())
