"""A model ready for the use stage, from a checkpoint, an ONNX file or an OpenVINO file: torch, onnxruntime or
openvino; ``auto`` picks by measurement (``use.autobackend``), the runtimes themselves are ``use.runtimes``."""

from __future__ import annotations

import os
from typing import Any

from .runtimes import (
    BACKENDS,
    RUNS,
    Backend,
    FileKind,
    Output,
    Say,
    backend_name,
    file_kind,
    installed,
    load_backend,
    say,
)

__all__ = [
    "BACKENDS",
    "RUNS",
    "Backend",
    "FileKind",
    "Output",
    "Say",
    "backend_name",
    "file_kind",
    "installed",
    "load_backend",
    "load_for_inference",
    "say",
]


def load_for_inference(
    path: str | os.PathLike[str],
    backend: Backend = "auto",
    device: str | None = None,
    output: Output = "logits",
    *,
    batch_size: int = 16,
    say: Say | None = None,
) -> Any:
    """A model for ``predict_images`` (or, with ``output="embedding"``, for ``vitkit.use.embed``): a torch model,
    an ``OnnxRunner`` or an ``OpenVinoRunner``.

    ``auto``: the backend measured fastest for this file at ``batch_size`` on this machine (measured the first
    time, a few seconds, then remembered; see ``use.autobackend``; ``say`` gets a line about it).
    ``onnxruntime`` and ``openvino`` on a checkpoint export it (``output``) to ONNX first, keeping vitkit's
    class-token-only last block. For logits, a feature extractor (a zeroed or absent head) is refused in one line.
    """
    if backend == "auto":
        from .autobackend import choose

        return choose(path, device, output, batch_size, say=say)
    return load_backend(path, backend, device, output)
