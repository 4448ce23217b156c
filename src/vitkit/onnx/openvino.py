"""OpenVINO as an inference backend: an exported vitkit graph (or an int8 file), callable like the torch model.

``OpenVinoRunner(path)`` takes an OpenVINO IR file (``.xml`` beside its ``.bin``: what ``vitkit quantize``
writes) or an ONNX file from ``vitkit export`` (converted in memory by ``openvino.convert_model``, so the graph
keeps vitkit's class-token-only last block). It carries ``config`` and ``info`` from the file's metadata, as
``OnnxRunner`` does, so ``predict_images``, ``evaluate`` and ``vitkit.use.embed`` take it in place of a model.

Precision: OpenVINO's CPU plugin runs float graphs in bf16 by default on CPUs with AVX512_BF16 or AMX (its
performance mode), which changes logits by ~1e-2. vitkit asks for ``f32`` unless told otherwise, so the
backend agrees with torch to 1e-4 like onnxruntime; an int8 graph runs its quantised matmuls in int8 and keeps
what was left in float (LayerNorm, softmax, GELU, the head) in f32 -- the setting its accuracy was measured in.

Shapes: exported graphs take any batch (and any image size, for plain ViTs), but the CPU plugin runs a graph
compiled for one fixed input shape 4-10% faster (measured on a 2-core Xeon, ViT-Ti/S/B at batch 1 and 16:
the position-embedding resize folds away and kernels are chosen for the shape). So the runner compiles the
shape of its first call, and of any shape it sees a second time, for that shape alone (at most
``STATIC_SHAPES`` of them, the least recently used replaced: each holds its own copy of the weights); a shape
seen once -- a folder's last, shorter batch -- runs on one compilation that takes any shape. Compiling costs
0.25-0.5 s a shape for ViT-Ti to ViT-B.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..errors import ConfigError
from ..models.config import config_from_dict
from ..models.info import DeclaresInfo, ModelInfo, model_name
from .inference_only import InferenceOnly
from .runner import META_CLASSES, META_CONFIG, META_HEAD, META_OUTPUT, META_TRANSFORM

META_PRECISION = "vitkit.precision"  # fp32 (exports) | int8 (vitkit quantize)
META_QUANTIZATION = "vitkit.quantization"  # JSON: how it was quantised and the accuracies measured
META_KEYS = (META_CONFIG, META_CLASSES, META_TRANSFORM, META_OUTPUT, META_HEAD, META_PRECISION, META_QUANTIZATION)
RT_SECTION = "vitkit"  # the IR's rt_info section that holds the metadata
INSTALL_HINT = "pip install 'vitkit[openvino]'"
Precision = Literal["f32", "bf16"]
STATIC_SHAPES = 2  # input shapes compiled for alone (the steady batch, and one more); others share a dynamic one
ANY_SHAPE = None  # the compilation key of the dynamic one


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def require_openvino() -> Any:
    """The ``openvino`` module, or a one-line hint naming the extra to install."""
    try:
        import openvino
    except ImportError:
        raise ConfigError(f"the openvino backend needs OpenVINO: {INSTALL_HINT}") from None
    return openvino


@functools.cache
def core() -> Any:
    """The process's one ``openvino.Core``, kept for the life of the process.

    OpenVINO's CPU plugin gives the compiling thread an alternate signal stack per ``Core`` and, when that
    ``Core`` is freed, puts back the stack that was there before it. Two ``Core`` objects freed in the order
    they were made leave the thread pointing at freed memory, and the next signal handled there -- a
    DataLoader worker's SIGCHLD, Ctrl-C, the server's SIGTERM -- kills the process with SIGSEGV. One ``Core``
    that is never freed cannot be freed out of order.
    """
    return require_openvino().Core()


def onnx_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The vitkit metadata of an ONNX file (its ``metadata_props``)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props if p.key in META_KEYS}


def set_metadata(model: Any, meta: dict[str, str]) -> None:
    """Store ``meta`` in an ``openvino.Model``'s rt_info (``openvino.save_model`` writes it into the IR)."""
    for key, value in meta.items():
        model.set_rt_info(value, [RT_SECTION, key.removeprefix("vitkit.")])


def get_metadata(model: Any) -> dict[str, str]:
    """The vitkit metadata ``set_metadata`` stored in an ``openvino.Model``."""
    meta = {}
    for key in META_KEYS:
        path = [RT_SECTION, key.removeprefix("vitkit.")]
        if model.has_rt_info(path):
            meta[key] = model.get_rt_info(path).astype(str)
    return meta


def convert_onnx(path: str | os.PathLike[str]) -> Any:
    """An ONNX file from ``vitkit export`` as an ``openvino.Model``, its metadata carried over."""
    ov = require_openvino()
    model = ov.convert_model(str(path))
    set_metadata(model, onnx_metadata(path))
    return model


def read_model(path: str | os.PathLike[str]) -> Any:
    """An ``openvino.Model`` from an IR ``.xml`` (with its ``.bin``) or a vitkit ONNX file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    if path.suffix.lower() == ".onnx":
        return convert_onnx(path)
    if path.suffix.lower() != ".xml":
        raise ConfigError(f"{path}: expected an OpenVINO IR (.xml) or ONNX (.onnx) file")
    if not path.with_suffix(".bin").is_file():
        raise ConfigError(f"{path}: its weights file {path.with_suffix('.bin').name} is missing beside it")
    return core().read_model(str(path))


def compile_config(threads: int | None, precision: Precision = "f32") -> dict[str, Any]:
    """The CPU plugin's settings: one latency-mode request on ``threads`` cores, in ``precision``."""
    return {
        "INFERENCE_PRECISION_HINT": precision,
        "PERFORMANCE_HINT": "LATENCY",  # one request uses every thread: the way a batch is run here
        "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
    }


class OpenVinoRunner(InferenceOnly, DeclaresInfo):
    """A vitkit graph run by OpenVINO's CPU plugin; ``source``: a path (``.xml``/``.onnx``) or an
    ``openvino.Model`` (with vitkit metadata). ``threads``: inference threads (default: torch's count)."""

    GRAPH = "OpenVINO"

    device = torch.device("cpu")
    backend = "openvino"

    def __init__(
        self,
        source: str | os.PathLike[str] | Any,
        *,
        threads: int | None = None,
        precision: Precision = "f32",
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        model = read_model(source) if isinstance(source, (str, os.PathLike)) else source
        self.path = Path(path if path is not None else source if isinstance(source, (str, os.PathLike)) else "")
        meta = get_metadata(model)
        self.model = model
        self.settings = compile_config(threads, precision)
        self.requests: OrderedDict[tuple[int, ...] | None, Any] = OrderedDict()  # shape -> infer request
        self.seen: Counter[tuple[int, ...]] = Counter()
        self.inference_precision = precision
        self.output_names = [next(iter(o.get_names()), f"output{i}") for i, o in enumerate(model.outputs)]
        self.config = config_from_dict(json.loads(meta[META_CONFIG])) if META_CONFIG in meta else None
        classes = json.loads(meta[META_CLASSES]) if META_CLASSES in meta else None
        transform = json.loads(meta[META_TRANSFORM]) if META_TRANSFORM in meta else None
        extra: dict[str, Any] = {"head": meta.get(META_HEAD, "valid")}
        self.precision = meta.get(META_PRECISION, "fp32")
        if META_QUANTIZATION in meta:
            extra["quantization"] = json.loads(meta[META_QUANTIZATION])
        name = model_name(self.config) if self.config is not None else "OpenVINO graph"
        if self.precision == "int8":
            name += " (int8)"
        self.info = ModelInfo(name, classes, transform, str(self.path), extra)
        self.output = meta.get(META_OUTPUT, "logits")

    def _compile(self, shape: tuple[int, ...] | None) -> Any:
        model = self.model
        if shape is not ANY_SHAPE:
            model = model.clone()
            model.reshape(list(shape))
        return core().compile_model(model, "CPU", self.settings).create_infer_request()

    def request_for(self, shape: tuple[int, ...]) -> Any:
        """The infer request that runs ``shape``: compiled for it alone, or the one that takes any shape."""
        self.seen[shape] += 1
        if shape in self.requests:
            self.requests.move_to_end(shape)
            return self.requests[shape]
        static = [k for k in self.requests if k is not ANY_SHAPE]
        if STATIC_SHAPES and (not static or self.seen[shape] > 1):
            try:
                request = self._compile(shape)
            except RuntimeError:  # a shape the graph cannot take: the dynamic one says why when run
                pass
            else:
                if len(static) >= STATIC_SHAPES:
                    del self.requests[static[0]]  # least recently used
                self.requests[shape] = request
                return request
        if ANY_SHAPE not in self.requests:
            self.requests[ANY_SHAPE] = self._compile(ANY_SHAPE)
        return self.requests[ANY_SHAPE]

    def _outputs(self, images: np.ndarray) -> dict[str, np.ndarray]:
        images = np.ascontiguousarray(images, dtype=np.float32)
        result = self.request_for(images.shape).infer([images], share_inputs=True)
        return {name: np.array(result[i]) for i, name in enumerate(self.output_names)}

    def run_numpy(self, images: np.ndarray) -> np.ndarray:
        """The logits (or a single-output graph's output) for float32 images (B, C, H, W)."""
        out = self._outputs(images)
        return out["logits"] if "logits" in out else out[self.output_names[0]]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run_numpy(images.detach().cpu().float().numpy()))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The image representation y: for graphs exported with ``output="embedding"`` or ``"both"``."""
        if self.output not in ("embedding", "both"):
            raise ConfigError(f"{self.path} computes {self.output}, not embeddings (vitkit export --output embedding)")
        out = self._outputs(images.detach().cpu().float().numpy())
        return torch.from_numpy(out["embedding"] if "embedding" in out else out[self.output_names[0]])

    def computes(self, output: str) -> bool:
        """Whether the graph gives ``output`` (logits or embedding)."""
        return self.output in (output, "both")

    def __repr__(self) -> str:
        return f"OpenVinoRunner({str(self.path)!r}, {self.precision}, inference {self.inference_precision})"
