"""A model ready for the use stage, from a checkpoint or an ONNX file: torch, or onnxruntime."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from ..config import ConfigError

Backend = Literal["auto", "torch", "onnxruntime"]


def load_for_inference(
    path: str | os.PathLike[str],
    backend: Backend = "auto",
    device: str | None = None,
    output: Literal["logits", "embedding"] = "logits",
) -> Any:
    """A model for ``predict_images`` (or, with ``output="embedding"``, for ``vitkit.use.embed``): a torch model,
    or an ``OnnxRunner``.

    ``auto`` runs ``.onnx`` files in onnxruntime and checkpoints in torch (exporting costs seconds, more than
    a few images gain); ``onnxruntime`` on a checkpoint exports it (``output``) to a temporary file first.
    For logits, a feature extractor (a zeroed or absent head) is refused in one line.
    """
    from ..checkpoint import load
    from ..device import pick_device
    from ..models.head import require_classifier

    def checked(model: Any) -> Any:
        if output == "logits":
            require_classifier(model, os.fspath(path))
        return model

    is_onnx = Path(path).suffix.lower() == ".onnx"
    if backend == "torch" and is_onnx:
        raise ConfigError(f"--backend torch: {path} is an ONNX file, which runs with onnxruntime only")
    if is_onnx or backend == "onnxruntime":
        from ..onnx_runner import OnnxRunner

        if is_onnx:
            runner = OnnxRunner(path)
            if runner.output != output:
                raise ConfigError(f"{path} computes {runner.output}, not {output} (vitkit export --output {output})")
            return checked(runner)
        from ..export import export_onnx

        with tempfile.TemporaryDirectory() as tmp:  # the session keeps the graph in memory
            return OnnxRunner(export_onnx(checked(load(path)), Path(tmp) / "model.onnx", output=output))
    return checked(load(path, device=pick_device(device)))
