"""onnxruntime as an inference backend: an exported model, callable like the torch model.

``OnnxRunner(path)(images)`` takes and returns torch tensors, and carries the ``config`` and ``info`` (class
names, transform) that ``vitkit.onnx.export`` stored, so ``predict_images``, ``evaluate`` and ``vitkit.use.embed``
take it in place of a model. On CPU it outruns eager PyTorch at batch 1 (less per-op overhead, which
dominates there) and wherever torch's MKL runs its generic kernels (AMD CPUs without ``vitkit.runtime.mkl_amd``:
MLAS is the faster GEMM then), at the price of more memory: it materialises attention scores and copies
tokens between layouts (see ``vitkit bench``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..models.config import config_from_dict
from ..models.info import DeclaresInfo, ModelInfo, model_name
from .inference_only import InferenceOnly

# the metadata keys ``vitkit.onnx.export`` writes and this runner reads
META_CONFIG, META_CLASSES = "vitkit.config", "vitkit.classes"
META_TRANSFORM, META_OUTPUT = "vitkit.transform", "vitkit.output"
META_HEAD = "vitkit.head"  # the exported model's head: valid | zeroed | absent (models.head.head_state)


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _session(path: Path, threads: int | None, providers: list[str] | None, spin: bool) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("the onnxruntime backend needs onnxruntime: pip install 'vitkit[onnx]'") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1  # a ViT is one chain of ops: parallelism is within ops
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no arena: activation buffers go back to the system after each call instead of staying reserved
    # (ViT-Ti/16 at batch 16: peak 113 MiB instead of 182, at the same speed; measured by vitkit bench)
    opts.enable_cpu_mem_arena = False
    if not spin:  # idle threads sleep instead of busy-waiting: they would starve other work on the cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])


class OnnxRunner(InferenceOnly, DeclaresInfo):
    """An exported model run by onnxruntime (CPU unless ``providers`` say otherwise).

    ``threads``: intra-op threads (default: torch's count). ``spin=False`` makes idle threads sleep rather
    than busy-wait between calls: slower alone, but fair to other work sharing the cores (benchmarks).
    """

    GRAPH = "ONNX"

    device = torch.device("cpu")  # where inputs are expected: outputs come back as CPU tensors
    backend = "onnxruntime"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int | None = None,
        providers: list[str] | None = None,
        spin: bool = True,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such ONNX file")
        self.session = _session(self.path, threads, providers, spin)
        self.input_name = self.session.get_inputs()[0].name
        meta = self.session.get_modelmeta().custom_metadata_map
        self.config = config_from_dict(json.loads(meta[META_CONFIG])) if META_CONFIG in meta else None
        classes = json.loads(meta[META_CLASSES]) if META_CLASSES in meta else None
        transform = json.loads(meta[META_TRANSFORM]) if META_TRANSFORM in meta else None
        name = model_name(self.config) if self.config is not None else "ONNX graph"
        self.info = ModelInfo(name, classes, transform, str(self.path), {"head": meta.get(META_HEAD, "valid")})
        self.output = meta.get(META_OUTPUT, "logits")

    def run_numpy(self, images: np.ndarray) -> np.ndarray:
        """The graph's output for float32 images (B, C, H, W)."""
        return self.session.run(None, {self.input_name: np.ascontiguousarray(images, dtype=np.float32)})[0]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run_numpy(images.detach().cpu().float().numpy()))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The image representation y: for graphs exported with ``output="embedding"``."""
        if self.output != "embedding":
            raise ConfigError(f"{self.path} computes {self.output}, not embeddings (vitkit export --output embedding)")
        return self(images)

    def computes(self, output: str) -> bool:
        """Whether the graph gives ``output`` (logits or embedding)."""
        return self.output == output

    def __repr__(self) -> str:
        return f"OnnxRunner({str(self.path)!r}, providers={self.session.get_providers()})"
