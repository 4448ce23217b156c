"""The peers that deploy: onnxruntime and OpenVINO, each fed timm's model the way its documentation says.

- ``onnxruntime``: timm's ViT exported by timm's own exporter (``timm.utils.onnx.onnx_export``, the code of
  timm's ``onnx_export.py`` script), run in an ``InferenceSession`` with all graph optimisations on
  (``ORT_ENABLE_ALL``) and the bench's thread count; fp32.
- ``openvino``: timm's ViT converted by ``openvino.convert_model(model, example_input=..., input=[shape])``
  (OpenVINO's documented path for PyTorch models, with the static input shape its performance guide asks
  for: 2-8% faster than a dynamic one here) and compiled for the CPU with the bench's thread count. The CPU plugin
  runs bf16 by default on CPUs with AVX512_BF16 or AMX (its performance mode), so the precision is set:
  ``INFERENCE_PRECISION_HINT=f32`` in an fp32 bench, ``bf16`` with ``--precision bf16`` -- each column is then
  compared only with rows of its own precision.

They run inference only, on the full model as timm builds it (every token through the last block). vitkit's
own variants on these runtimes: ``vitkit-onnxruntime``, ``vitkit-openvino`` (vitkit's ONNX export, converted:
its class-token-only last block kept) and ``vitkit-int8`` (that graph quantised by NNCF; see ``vitkit.int8``).
A runtime that is not installed makes its row say so; the bench goes on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEPLOY_PEERS = ("onnxruntime", "openvino")
INT8_CALIBRATION_IMAGES = 32  # random images: the int8 row measures speed only (accuracy: vitkit quantize)


class NotInstalled(RuntimeError):
    """A runtime the row needs is not installed: the row says so, the bench goes on."""


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise NotInstalled(f"not installed (pip install 'vitkit[{extra}]')") from None


def ov_precision(precision: str) -> str:
    """The CPU plugin's ``INFERENCE_PRECISION_HINT`` for the bench's ``--precision``."""
    return "bf16" if precision == "bf16" else "f32"


def column_precision(library: str, precision: str) -> str | None:
    """The precision a row of ``library`` computes in, for the table (None: as ``--precision`` says)."""
    if library == "onnxruntime":
        return "fp32"
    if library in ("openvino", "vitkit-openvino"):
        return ov_precision(precision)
    if library == "vitkit-int8":
        return "int8"
    return None


def _images(batch: int, shape: Any) -> np.ndarray:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, shape.in_chans, shape.image_size, shape.image_size, generator=gen).numpy()


def peer_step(library: str, case: Any, threads: int | None, precision: str) -> Callable[[], None]:
    """One inference batch of ``library`` (``onnxruntime`` or ``openvino``) on timm's model of ``case``."""
    from .peers import build

    shape, x = case.shape, _images(case.batch, case.shape)
    threads = int(threads or torch.get_num_threads())
    if library == "onnxruntime":
        ort = _require("onnxruntime", "onnx")
        if precision != "fp32":
            raise NotInstalled("fp32 only: compared with fp32 rows, not run with --precision bf16")
        from timm.utils.onnx import onnx_export

        with tempfile.TemporaryDirectory(prefix="vitkit-bench-ort-") as tmp:
            path = str(Path(tmp) / "timm.onnx")
            example = torch.from_numpy(_images(2, shape))
            onnx_export(build("timm", shape), path, example_input=example, check=False)
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.intra_op_num_threads = threads
            session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda: session.run(None, {name: x})
    ov = _require("openvino", "openvino")
    model = ov.convert_model(build("timm", shape), example_input=torch.from_numpy(x), input=[x.shape])
    config = {"INFERENCE_PRECISION_HINT": ov_precision(precision), "INFERENCE_NUM_THREADS": threads}
    from ..onnx.openvino import core as openvino_core

    compiled = openvino_core().compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    return lambda: request.infer([x], share_inputs=True)


def vitkit_openvino_step(
    onnx_path: str, case: Any, threads: int | None, precision: str, int8: bool = False
) -> Callable[[], None]:
    """One inference batch of vitkit's exported graph in OpenVINO (``int8``: quantised by NNCF first)."""
    _require("openvino", "openvino")
    from ..onnx.openvino import OpenVinoRunner, convert_onnx

    model = convert_onnx(onnx_path)
    if int8:
        nncf = _require("nncf", "openvino")
        s = case.shape
        dims = (1, s.in_chans, s.image_size, s.image_size)
        calib = [np.random.default_rng(i).standard_normal(dims, np.float32) for i in range(INT8_CALIBRATION_IMAGES)]
        model = nncf.quantize(
            model,
            nncf.Dataset(calib),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(calib),
        )
    runner = OpenVinoRunner(model, threads=threads, precision=ov_precision(precision))
    x = _images(case.batch, case.shape)
    return lambda: runner.run_numpy(x)
