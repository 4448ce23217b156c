"""Running a model fast: threads, inference mode, ``torch.compile`` where it pays, bf16 autocast on CUDA.

Measured on a 2-core CPU (``vitkit bench``): compiling with inductor and frozen weights speeds inference
up where torch's own GEMM is slow (MKL's generic kernels on AMD CPUs: inductor prepacks the weights for
oneDNN and fuses bias and GELU into the matmuls) and for the tiniest models (per-op overhead); on MKL's
instruction-set kernels (``vitkit.runtime.mkl_amd``) it gains 0-6% at batch 16 on ViT-Ti/S/B for more memory. It does
not speed a training step up (matmul-bound either way) and costs 10-40 s, so training stays eager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

Precision = Literal["fp32", "bf16"]


def set_threads(threads: int | None) -> int:
    """Use ``threads`` intra-op threads (None: torch's default, one per physical core); returns the count."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def compile_for_inference(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model`` compiled for inference: its weights are frozen into the compiled code on CPU.

    Call the result under ``torch.inference_mode()`` (or ``no_grad``); later changes to the weights are
    not seen by it. The first call compiles (seconds to a minute); each new input shape compiles again.
    """
    cpu = next(model.parameters()).device.type == "cpu"
    return torch.compile(model.eval(), dynamic=False, options={"freezing": True} if cpu else None)


def compile_for_training(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model`` compiled for training steps (forward and backward graphs; the optimizer stays eager)."""
    return torch.compile(model, dynamic=False)


def autocast(device: torch.device | str, precision: Precision) -> contextlib.AbstractContextManager:
    """bf16 autocast for ``precision="bf16"`` (CUDA: flash attention kernels then apply); a no-op for fp32."""
    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def synchronizer(device: torch.device | str) -> Callable[[], None] | None:
    """What waits for queued device work (CUDA), for timing; None on CPU."""
    device = torch.device(device)
    return torch.cuda.synchronize if device.type == "cuda" else None
