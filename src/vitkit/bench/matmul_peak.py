"""The machine's matrix-multiply rate (float32; bf16 for bf16 runs): the ceiling the models' GFLOP/s are compared with.

A 2048 x 2048 x 2048 product (17.2 GFLOP) keeps a BLAS in its most efficient regime. Each GEMM at hand is
timed -- torch's (MKL or OpenBLAS), numpy's, onnxruntime's (MLAS) -- since on a given CPU any of them may
be the fastest (on AMD EPYC, MKL is not); the peak is the best rate of any. It is measured in the same
process and thread setting as the models, so "achieved / peak" compares like with like.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch


def _rates(mm: Callable[[], object], flop: float, repeats: int, sync: Callable[[], None]) -> list[float]:
    mm()
    sync()
    rates = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        mm()
        sync()
        rates.append(flop / (time.perf_counter() - start) / 1e9)
    return rates


def _numpy_mm(a: np.ndarray, b: np.ndarray) -> Callable[[], object] | None:
    """numpy's BLAS at torch's thread count (it has its own pool); None where that cannot be set."""
    threads = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return (lambda: a @ b) if threads == os.cpu_count() else None

    def mm() -> object:
        with threadpool_limits(limits=threads, user_api="blas"):
            return a @ b

    return mm


def _onnxruntime_mm(a: np.ndarray, b: np.ndarray) -> Callable[[], object] | None:
    try:
        import onnx
        import onnx.helper as oh
        import onnxruntime as ort
    except ImportError:
        return None
    n = a.shape[0]
    io = [oh.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [n, n]) for name in "aby"]
    graph = oh.make_graph([oh.make_node("MatMul", ["a", "b"], ["y"])], "matmul", io[:2], io[2:])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]).SerializeToString(),
        opts,
        providers=["CPUExecutionProvider"],
    )
    return lambda: session.run(None, {"a": a, "b": b})


def matmul_gflops(
    n: int = 2048, repeats: int = 5, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> dict[str, object]:
    """GFLOP/s (2 n^3 per product) of each GEMM: ``{"torch": {"best", "median"}, ..., "best": peak}``.

    On CUDA, or for a ``dtype`` other than float32 (bf16 runs), torch's GEMM only.
    """
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    flop = 2.0 * n**3
    gemms: dict[str, tuple[Callable[[], object], Callable[[], None]]] = {}
    if torch.device(device).type == "cuda" or dtype != torch.float32:
        ca, cb = a.to(device, dtype), b.to(device, dtype)
        sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
        gemms["torch"] = (lambda: ca @ cb, sync)
    else:
        na, nb = a.numpy(), b.numpy()
        gemms["torch"] = (lambda: a @ b, lambda: None)
        numpy_mm = _numpy_mm(na, nb)
        if numpy_mm is not None:
            gemms["numpy"] = (numpy_mm, lambda: None)
        ort_mm = _onnxruntime_mm(na, nb)
        if ort_mm is not None:
            gemms["onnxruntime"] = (ort_mm, lambda: None)
    out: dict[str, object] = {"n": n}
    for name, (mm, sync) in gemms.items():
        rates = _rates(mm, flop, repeats, sync)
        out[name] = {"best": max(rates), "median": statistics.median(rates)}
    out["best"] = max(v["best"] for k, v in out.items() if isinstance(v, dict))
    return out
