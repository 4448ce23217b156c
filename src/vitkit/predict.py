"""Inference helpers shared by eval, predict and embed: the checkpoint's own transform, batched."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .config import ConfigError
from .data import TransformConfig, build_transform, load_image


def transform_for(model: nn.Module) -> TransformConfig:
    """The transform stored with the checkpoint, at the model's resolution; the official [-1, 1] otherwise."""
    stored = (getattr(model, "checkpoint_extra", None) or {}).get("transform")
    cfg = model.config
    base = TransformConfig.from_dict(stored) if stored else TransformConfig()
    return TransformConfig.from_dict({**base.to_dict(), "image_size": cfg.image_size, "in_chans": cfg.in_chans})


Backend = Literal["auto", "torch", "onnxruntime"]


def load_for_inference(
    path: str | os.PathLike[str],
    backend: Backend = "auto",
    device: str | None = None,
    output: Literal["logits", "embedding"] = "logits",
) -> Any:
    """A model for ``predict_images`` (or, with ``output="embedding"``, for ``vitkit.embed``): a torch model,
    or an ``OnnxRunner``.

    ``auto`` runs ``.onnx`` files in onnxruntime and checkpoints in torch (exporting costs seconds, more than
    a few images gain); ``onnxruntime`` on a checkpoint exports it (``output``) to a temporary file first.
    """
    from .checkpoint import load
    from .train.loop import pick_device

    is_onnx = Path(path).suffix.lower() == ".onnx"
    if backend == "torch" and is_onnx:
        raise ConfigError(f"--backend torch: {path} is an ONNX file, which runs with onnxruntime only")
    if is_onnx or backend == "onnxruntime":
        from .onnx_runner import OnnxRunner

        if is_onnx:
            runner = OnnxRunner(path)
            if runner.output != output:
                raise ConfigError(f"{path} computes {runner.output}, not {output} (vitkit export --output {output})")
            return runner
        from .export import export_onnx

        with tempfile.TemporaryDirectory() as tmp:  # the session keeps the graph in memory
            return OnnxRunner(export_onnx(load(path), Path(tmp) / "model.onnx", output=output))
    return load(path, device=pick_device(device))


def model_device(model: Any) -> torch.device:
    """Where a model's inputs go (an ``OnnxRunner`` says so itself)."""
    if isinstance(model, nn.Module):
        return next(model.parameters()).device
    return torch.device(getattr(model, "device", "cpu"))


@torch.inference_mode()
def predict_images(
    model: nn.Module, paths: Sequence[str | os.PathLike[str]], k: int = 5, batch_size: int = 32
) -> list[dict[str, Any]]:
    """Top-``k`` classes with probabilities for each image file (``model``: torch, or an ``OnnxRunner``)."""
    transform = build_transform(transform_for(model), train=False)
    names = getattr(model, "classes", None)
    device = model_device(model)
    out: list[dict[str, Any]] = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        x = torch.stack([transform(load_image(p)) for p in chunk]).to(device)
        probs = model(x).float().softmax(-1)
        top = probs.topk(min(k, probs.shape[1]), dim=1)
        for path, p, i in zip(chunk, top.values.tolist(), top.indices.tolist()):
            out.append(
                {
                    "image": str(path),
                    "top": [{"class": names[j] if names else str(j), "index": j, "prob": q} for q, j in zip(p, i)],
                }
            )
    return out
