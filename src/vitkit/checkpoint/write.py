"""Writing a model back out in any format vitkit reads: vitkit, timm, Hugging Face, official ``.npz``.

``write(model, dst, to=None)`` picks the format from ``dst`` when ``to`` is not given (``.npz`` -> official;
``.pth``/``.bin`` -> timm; a folder -> Hugging Face; ``.safetensors`` -> vitkit, as it always was: timm's
``.safetensors`` needs ``to="timm"``). Each format's writer lives beside its reader; what a format cannot
express is refused in one line naming the option, never written approximately.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as serialize
from torch import nn

from ..atomic import write_atomic
from ..models.config import BiTConfig, ModelConfig, config_to_json
from . import bit_format, hf_format, native, official, timm_format
from .errors import CheckpointError

FORMATS = ("vitkit", "timm", "hf", "npz")
_SUFFIXES = {"vitkit": (".safetensors",), "timm": (".safetensors", ".pth", ".pt", ".bin"), "npz": (".npz",)}
_BY_SUFFIX = {".npz": "npz", ".pth": "timm", ".pt": "timm", ".bin": "timm", ".safetensors": "vitkit"}


def infer_format(dst: str | os.PathLike[str]) -> str:
    """The format ``dst`` asks for: by suffix, or ``hf`` for a folder (an existing one, or a name without suffix)."""
    path = Path(dst)
    if path.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[path.suffix.lower()]
    if path.is_dir() or not path.suffix:
        return "hf"
    raise CheckpointError(
        path,
        f"cannot tell the format from the suffix {path.suffix!r}: "
        f"give --to ({'|'.join(FORMATS)}) or a .safetensors/.npz/.pth path or a folder",
    )


def write(model: nn.Module, dst: str | os.PathLike[str], to: str | None = None) -> Path:
    """Write ``model`` to ``dst`` as ``to`` (``vitkit`` | ``timm`` | ``hf`` | ``npz``; inferred when None)."""
    dst = Path(dst)
    fmt = to or infer_format(dst)
    try:
        return _write(model, dst, fmt)
    except OSError as e:  # read-only folder, disk full...: the user's to fix, in one line
        raise CheckpointError(dst, f"cannot write ({e.strerror or e})") from None


def _write(model: nn.Module, dst: Path, fmt: str) -> Path:
    if fmt not in FORMATS:
        raise CheckpointError(dst, f"--to {fmt!r}: expected one of {', '.join(FORMATS)}")
    cfg: ModelConfig = model.config
    classes = model.info.classes
    if fmt == "hf" and (dst.suffix or dst.exists()) and not dst.is_dir():
        raise CheckpointError(dst, "--to hf: the output is a folder (config.json, model.safetensors, ...), not a file")
    if fmt != "hf" and (dst.is_dir() or dst.suffix.lower() not in _SUFFIXES[fmt]):
        raise CheckpointError(dst, f"--to {fmt}: the output must be a {'/'.join(_SUFFIXES[fmt])} file")
    if fmt == "vitkit":
        return native.save(model, dst)
    if isinstance(cfg, BiTConfig):
        return _write_bit(model.state_dict(), cfg, dst, fmt, classes)
    if fmt == "timm":
        timm_format.check_writable(cfg, dst)
        sd = timm_format.from_state_dict(model.state_dict(), cfg)
        if dst.suffix.lower() != ".safetensors":
            _check_inferred(timm_format.infer_config(sd, dst), cfg, dst, fmt)
        return _write_state_dict(sd, cfg, dst, classes)
    if fmt == "npz":
        official.check_writable(cfg, dst)
        arrays = official.from_state_dict(model.state_dict(), cfg)
        _check_inferred(official.infer_config(arrays, dst), cfg.replace(qkv_bias=True), dst, fmt)  # zero biases
        return _write_npz(arrays, dst)
    hf_format.check_writable(cfg, dst)
    return _write_hf(model, cfg, dst, classes)


def _write_bit(sd: dict[str, torch.Tensor], cfg: BiTConfig, dst: Path, fmt: str, classes: list[str] | None) -> Path:
    if fmt == "hf":
        raise CheckpointError(dst, "--to hf: a BiT ResNet is not a transformers ViT (use --to timm or --to npz)")
    bit_format.check_writable(cfg, fmt, dst)
    if fmt == "npz":
        arrays = bit_format.to_npz(sd, cfg)
        _check_inferred(bit_format.npz_config(arrays, dst), cfg, dst, fmt)
        return _write_npz(arrays, dst)
    timm_sd = bit_format.to_timm(sd, cfg)
    if dst.suffix.lower() != ".safetensors":
        _check_inferred(bit_format.timm_config(timm_sd, dst), cfg, dst, fmt)
    return _write_state_dict(timm_sd, cfg, dst, classes)


# Options that change nothing at inference: a file need not record them.
_TRAINING_ONLY = ("name", "dropout_rate", "attention_dropout_rate", "drop_path_rate")


def _check_inferred(inferred: ModelConfig, cfg: ModelConfig, dst: Path, fmt: str) -> None:
    """Refuse a file whose reader would infer another architecture than ``cfg`` (what the tensors cannot say)."""
    got, want = inferred.to_dict(), cfg.to_dict()
    for key in want:
        if key not in _TRAINING_ONLY and got.get(key) != want[key]:
            hint = "; a .safetensors file (--to timm) keeps it in its metadata" if fmt == "timm" else ""
            raise CheckpointError(
                dst,
                f"--to {fmt}: {key}={want[key]!r} is not recorded in this file"
                f" (a reader infers {got.get(key)!r}){hint}",
            )


def _write_state_dict(sd: dict[str, torch.Tensor], cfg: ModelConfig, dst: Path, classes: list[str] | None) -> Path:
    """timm names as ``.safetensors`` (vitkit's config and classes in the metadata) or a plain ``torch.save``."""
    sd = {k: v.detach().cpu().contiguous() for k, v in sd.items()}
    if dst.suffix.lower() != ".safetensors":
        return write_atomic(dst, lambda f: torch.save(sd, f))
    meta = {"format": "pt", timm_format.META_CONFIG: config_to_json(cfg)}
    if classes is not None:
        meta[timm_format.META_CLASSES] = json.dumps(list(classes))
    return write_atomic(dst, lambda f: f.write(serialize(sd, metadata=meta)))


def _write_npz(arrays: dict[str, np.ndarray], dst: Path) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # uncompressed, no pickles: what the official saver writes
    return write_atomic(dst, lambda f: f.write(buf.getvalue()))


def _write_hf(model: nn.Module, cfg: Any, dst: Path, classes: list[str] | None) -> Path:
    from ..models.transform import transform_for

    sd = hf_format.from_state_dict(model.state_dict(), cfg)
    files = {
        "config.json": json.dumps(hf_format.config_json(cfg, classes), indent=2).encode(),
        "preprocessor_config.json": json.dumps(hf_format.preprocessor_json(transform_for(model)), indent=2).encode(),
        "model.safetensors": serialize(sd, metadata={"format": "pt"}),
    }
    dst.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomic(dst / name, lambda f, data=data: f.write(data))
    return dst
