"""``vitkit.load``: any supported checkpoint -> a ready model, format detected, architecture inferred."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from ..models.config import ModelConfig, ViTConfig
from ..models.info import ModelInfo
from ..models.resnet import BiTResNet
from ..models.vit import VisionTransformer
from . import bit_format, hf_format, native, official, timm_format
from .errors import CheckpointError

RUN_DIR_WEIGHTS = ("final.safetensors", "last.safetensors")


@dataclass
class Checkpoint:
    """What a file holds, in vitkit terms, before any model is built."""

    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    format: str
    classes: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_checkpoint(path: str | os.PathLike[str], *, num_heads: int | None = None) -> Checkpoint:
    """Detect the format of ``path`` and convert it (no model is built; no code from the file runs).

    A ``path`` that does not exist but reads as a checkpoint name (``ViT-B/16:imagenet21k``, ``hf:REPO``,
    ``timm:MODEL.TAG``) is fetched by ``vitkit.hub`` (downloaded once, cached, verified) and read from there.
    """
    from .. import hub

    if hub.is_name(path):
        got = hub.resolve(os.fspath(path))
        adopted: Checkpoint = got.adopt(read_checkpoint(got.path, num_heads=num_heads or got.num_heads))
        return adopted
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "no such file or directory")
    if path.is_dir():
        return _read_dir(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        params = official.read_npz(path)
        if bit_format.looks_like_npz(params):
            bit = bit_format.npz_config(params, path)
            return Checkpoint(bit, _convert(bit_format.npz_to_state_dict, params, bit, path), "bit")
        vit = official.infer_config(params, path)
        return Checkpoint(vit, _convert(official.to_state_dict, params, vit, path), "official")
    if suffix == ".safetensors":
        meta = native.safetensors_metadata(path)
        if meta.get("format") == native.FORMAT:
            cfg, sd, info = native.read(path)
            return Checkpoint(cfg, sd, "vitkit", info["classes"], info["extra"])
        return _from_timm(native.read_safetensors(path), path, num_heads, meta)
    if suffix in (".pth", ".pt", ".bin", ".ckpt"):
        return _from_timm(_torch_load(path), path, num_heads)
    raise CheckpointError(
        path, "unknown checkpoint type (expected .safetensors, .npz, .pth/.pt/.bin, a run or HF folder)"
    )


def _read_dir(path: Path) -> Checkpoint:
    for name in RUN_DIR_WEIGHTS:
        if (path / name).is_file():
            return read_checkpoint(path / name)
    if (path / "config.json").is_file():
        hf = hf_format.read_config(path)
        wfile = hf_format.weights_file(path)
        sd = native.read_safetensors(wfile) if wfile.suffix == ".safetensors" else _torch_load(wfile)
        cfg, classes = hf_format.infer_config(hf, sd, path)
        return Checkpoint(cfg, _convert(hf_format.to_state_dict, sd, cfg, path), "transformers", classes)
    raise CheckpointError(path, f"folder holds no checkpoint ({', '.join(RUN_DIR_WEIGHTS)} or config.json expected)")


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)  # never unpickles code
    except Exception as e:  # noqa: BLE001 -- the unpickler raises many types (struct.error...); all mean a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(path, f"not a loadable weights-only torch file ({first})") from None
    for key in ("state_dict", "model", "model_state"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(path, "torch file does not hold a state dict of tensors")
    return obj


def _from_timm(
    sd: dict[str, torch.Tensor], path: Path, num_heads: int | None, meta: dict[str, str] | None = None
) -> Checkpoint:
    stored, classes = timm_format.read_metadata(meta or {}, path)
    if bit_format.looks_like_timm(sd):
        cfg = stored or bit_format.timm_config(sd, path)
        return Checkpoint(cfg, _convert(bit_format.timm_to_state_dict, sd, cfg, path), "timm", classes)
    if not timm_format.looks_like(sd):
        first = next(iter(sd), "<empty>")
        raise CheckpointError(path, f"not a ViT state dict vitkit knows (first key {first!r})")
    cfg = stored or timm_format.infer_config(sd, path, num_heads)
    return Checkpoint(cfg, _convert(timm_format.to_state_dict, sd, cfg, path), "timm", classes)


def _convert(
    fn: Callable[..., dict[str, torch.Tensor]], sd: dict[str, Any], cfg: ModelConfig, path: Path
) -> dict[str, torch.Tensor]:
    """Run a converter; its KeyError is a missing tensor, its ValueError an unexpected one."""
    try:
        return fn(sd, cfg)
    except CheckpointError:
        raise
    except KeyError as e:
        raise CheckpointError(path, f"missing tensor {e.args[0]!r}") from None
    except ValueError as e:
        raise CheckpointError(path, str(e)) from None


def load(
    path: str | os.PathLike[str],
    *,
    image_size: int | tuple[int, int] | None = None,
    num_classes: int | None = None,
    drop_pre_logits: bool = False,
    resize: str = "bilinear",
    num_heads: int | None = None,
    device: str | torch.device = "cpu",
) -> VisionTransformer | BiTResNet:
    """Load any supported checkpoint, or a published one by name, as a vitkit model (eval mode).

    Formats: vitkit safetensors and run folders, official ``.npz`` (linen and pre-linen layouts, ViT and
    hybrid), timm state dicts (``.safetensors``, ``.pth``/``.bin`` read with ``weights_only=True``) and
    Hugging Face ViT folders. ``image_size`` resizes the position embeddings as the official fine-tuning
    does (``resize="bilinear"``, align_corners=True; or ``"bicubic"``); ``num_classes`` puts a new
    zero-initialised head on; ``drop_pre_logits`` removes the pre-logits layer. Names
    (``"ViT-B/16:imagenet21k+imagenet2012@384"``, ``"hf:google/vit-base-patch16-224"``,
    ``"timm:vit_small_patch16_224.augreg_in21k"``; ``vitkit pretrained`` lists them) are fetched through
    ``vitkit.hub`` and carry their class names; a name gives the same model from every source (its head,
    pre-logits, activation, resolution and evaluation transform as the registry says). A BiT model takes
    ``image_size`` as the resolution it is evaluated at. ``num_heads`` is only needed
    for timm files of a non-standard width. ``model.info`` holds its class names (when known), the data
    transform it was trained with and the file or name it came from.
    """
    ckpt = read_checkpoint(path, num_heads=num_heads)
    path = Path(path)
    model = build_checked(ckpt, path)
    if drop_pre_logits and isinstance(model, VisionTransformer) and model.config.representation_size:
        model.drop_pre_logits()
    if image_size is not None:
        _resize(model, image_size, resize, path)
    if num_classes is not None and (num_classes != model.config.num_classes or drop_pre_logits):
        model.reset_classifier(num_classes)
        model.info.classes = None
    return model.to(device).eval()


def build_checked(ckpt: Checkpoint, path: Path) -> VisionTransformer | BiTResNet:
    """Build the model of ``ckpt`` and load its tensors, or say in one line what does not fit."""
    from ..models.build import build_model

    model = build_model(ckpt.config)
    expected = model.state_dict()
    for key, value in ckpt.state_dict.items():
        if key not in expected:
            raise CheckpointError(path, f"unexpected tensor {key!r} for the inferred {_describe(ckpt.config)}")
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                path, f"tensor {key!r} has shape {tuple(value.shape)}, the model expects {tuple(expected[key].shape)}"
            )
    missing = [k for k in expected if k not in ckpt.state_dict]
    if missing:
        raise CheckpointError(path, f"missing tensor {missing[0]!r} ({len(missing)} missing)")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in ckpt.state_dict.items()})
    model.info = ModelInfo.from_checkpoint(model.info.name, ckpt.classes, ckpt.extra, str(path))
    return model


def _resize(model: VisionTransformer | BiTResNet, image_size: int | tuple[int, int], mode: str, path: Path) -> None:
    if mode not in ("bilinear", "bicubic"):
        raise CheckpointError(path, f"resize mode {mode!r}: expected 'bilinear' or 'bicubic'")
    try:
        model.set_image_size(image_size, mode)
    except ConfigError as e:
        raise CheckpointError(path, f"cannot use image_size={image_size}: {e}") from None


def _describe(cfg: ModelConfig) -> str:
    if isinstance(cfg, ViTConfig):
        return f"ViT (hidden {cfg.hidden_size}, {cfg.num_layers} layers, patch {cfg.patch_size[0]})"
    return f"BiT ResNet {cfg.resnet.num_layers} x{cfg.resnet.width_factor:g}"
