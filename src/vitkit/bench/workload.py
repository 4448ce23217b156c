"""One (library, case) made runnable: a ``step()`` that does one inference batch or one training step.

A training step is the same for every library: ``zero_grad``, forward, cross-entropy on random labels,
backward, AdamW step (lr 1e-4, weight decay 0.01) -- torch's default AdamW for the peers, and for vitkit
the AdamW its trainer builds (``vitkit.train.optim``: fused where torch has the kernel).
Inference runs under ``torch.inference_mode()``. vitkit rows run as configured by
``Options`` (compiled or not, torch or onnxruntime); the other libraries run as they ship, in eager mode.

Library names: the peers of ``peers.PEERS``, the deploying peers of ``deploy.DEPLOY_PEERS`` (onnxruntime and
OpenVINO running timm's model; inference only), ``vitkit`` (as ``Options`` say), and for comparisons within
vitkit ``vitkit-eager`` (torch, not compiled), ``vitkit-compiled``, ``vitkit-onnxruntime``, ``vitkit-openvino``
and ``vitkit-int8`` (OpenVINO, quantised by NNCF on random images: speed only).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ..runtime import accel, mkl_amd
from ..train.optim import build_optimizer
from ..use.timing import Contender
from .cases import Case
from .deploy import DEPLOY_PEERS, peer_step, vitkit_openvino_step
from .peers import build

Backend = Literal["auto", "torch", "onnxruntime", "openvino"]
VITKIT_VARIANTS = ("vitkit", "vitkit-eager", "vitkit-compiled", "vitkit-onnxruntime", "vitkit-openvino", "vitkit-int8")
INFER_ONLY = (*DEPLOY_PEERS, "vitkit-openvino", "vitkit-int8")  # not run in training cases


@dataclass(frozen=True)
class Options:
    """How vitkit runs (``None``/``"auto"``: as measured fastest for the case).

    ``backend="auto"``: for fp32 inference on CPU, what ``--backend auto`` measures fastest for the case on
    this machine (``auto``: (shape, batch, backend) triples that ``measured_auto`` filled in). Without a
    measurement, the rule measured on a 2-core AMD EPYC: onnxruntime where installed -- at batch 1
    (onnxruntime / eager torch: demo 3.7x, p4/32 1.4x, Ti/16 1.3x), and at every batch where torch's MKL
    runs its generic kernels (``vitkit.runtime.mkl_amd``) -- torch otherwise (at batch 16 on MKL's AVX2 kernels,
    onnxruntime / eager torch: demo 0.94x, Ti/16 0.93x, p4/32 1.05x in one run and 0.98x in another).
    ``compile=None``: compile inference on CUDA, and on CPU where MKL runs generic kernels (inductor's
    packed weights then beat it); not on MKL's instruction-set kernels, where compiled / eager at batch 16
    is Ti/16 1.00x, p4/32 0.99x, S/16 1.06x, B/16 1.02x, demo 1.18x for 1.0-3.8x the memory (plus 10-40 s
    of compiling); never for training (0.97-1.00x).
    """

    compile: bool | None = None
    backend: Backend = "auto"
    device: str = "cpu"
    precision: accel.Precision = "fp32"
    threads: int | None = None
    auto: tuple[tuple[str, int, str], ...] = ()  # (shape name, batch, backend) as --backend auto measured them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def auto_choice(self, case: Case) -> str | None:
        return next((b for name, batch, b in self.auto if (name, batch) == (case.shape.name, case.batch)), None)


def auto_applies(case: Case, opts: Options) -> bool:
    """Whether vitkit's ``auto`` backend picks by measurement in ``case`` (fp32 inference on CPU)."""
    cpu = torch.device(opts.device).type == "cpu"
    return opts.backend == "auto" and case.mode == "infer" and cpu and opts.precision == "fp32"


def measured_auto(case: Case, opts: Options, workdir: str) -> tuple[Options, str]:
    """``opts`` with what ``--backend auto`` picks for ``case`` on this machine, and its measurement line.

    The same measurement ``vitkit predict --backend auto`` runs the first time it meets a file
    (``use.autobackend.measure``: every installed backend, alternating rounds, about 3 s), on a file of the
    case's shape with random weights.
    """
    from ..checkpoint import save
    from ..use.autobackend import measure

    path = Path(workdir) / f"{case.shape.name.replace('/', '_')}-auto.safetensors"
    if not path.is_file():
        model = build("vitkit", case.shape)
        with torch.no_grad():  # a classifier, as a user's file is: a zero head is refused as a feature extractor
            model.head.weight.normal_(std=0.02)
        save(model, str(path))
    m = measure(path, case.batch, "logits")
    if m.winner is None:
        return opts, f"auto: nothing measured ({'; '.join(f'{b}: {why}' for b, why in m.skipped.items())[:200]})"
    choice = (case.shape.name, case.batch, m.winner)
    return replace(opts, auto=(*opts.auto, choice)), f"auto: {m.line()} -> {m.winner}"


@dataclass(frozen=True)
class Plan:
    """What actually runs for one (library, case): the resolved backend and compile choice."""

    builder: str
    backend: Literal["torch", "onnxruntime", "openvino", "openvino-int8"]
    compile: bool


def plan(library: str, case: Case, opts: Options) -> Plan:
    """Resolve ``library`` and ``opts`` for ``case`` (training always runs in torch)."""
    from ..onnx.runner import onnxruntime_available

    infer = case.mode == "infer"
    if library in DEPLOY_PEERS:
        return Plan("timm", library, False)
    if library not in VITKIT_VARIANTS:
        return Plan(library, "torch", False)
    if library == "vitkit-eager":
        return Plan("vitkit", "torch", False)
    if library == "vitkit-compiled":
        return Plan("vitkit", "torch", True)
    if library == "vitkit-onnxruntime":
        return Plan("vitkit", "onnxruntime" if infer else "torch", False)
    if library in ("vitkit-openvino", "vitkit-int8"):
        backend = "openvino" if library == "vitkit-openvino" else "openvino-int8"
        return Plan("vitkit", backend if infer else "torch", False)
    cpu = torch.device(opts.device).type == "cpu"
    generic = cpu and mkl_amd.mkl_cpu_type() == 0  # torch's GEMM on MKL's generic kernels (see vitkit.runtime.mkl_amd)
    backend = opts.backend
    if backend == "auto" and auto_applies(case, opts) and opts.auto_choice(case):
        backend = opts.auto_choice(case)  # type: ignore[assignment]
    elif backend == "auto":
        ort = infer and cpu and opts.precision == "fp32" and onnxruntime_available()
        backend = "onnxruntime" if ort and (case.batch == 1 or generic) else "torch"
    if not infer:
        backend = "torch"
    compile_ = opts.compile if opts.compile is not None else infer and (not cpu or generic)
    return Plan("vitkit", backend, compile_ and backend == "torch")


@dataclass
class Workload:
    """A ready-to-run step; ``setup_s``: seconds to build it (an ONNX export included); ``first_step_s``: the
    first step's seconds (compilation included), once ``trial`` has run."""

    library: str
    case: Case
    plan: Plan
    step: Callable[[], None]
    sync: Callable[[], None] | None
    setup_s: float
    onnx_path: str | None = None
    first_step_s: float | None = None

    def trial(self) -> None:
        """Run the first step (it compiles, allocates lazily...), timed; raises what the step raises."""
        start = time.perf_counter()
        self.step()
        if self.sync is not None:
            self.sync()
        self.first_step_s = time.perf_counter() - start

    def contender(self) -> Contender:
        return Contender(self.library, self.step, self.case.batch, self.sync)


def _inputs(case: Case, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    s = case.shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(case.batch, s.in_chans, s.image_size, s.image_size, generator=gen)
    y = torch.randint(0, s.num_classes, (case.batch,), generator=gen)
    return x.to(device), y.to(device)


def _export(case: Case, workdir: str) -> str:
    """vitkit's model of ``case`` exported to ONNX in ``workdir`` (its class-token-only last block kept)."""
    from ..onnx.export import export_onnx

    name = case.shape.name.replace("/", "_") + ".onnx"
    return str(export_onnx(build("vitkit", case.shape), Path(workdir) / name))


def _onnx_step(case: Case, opts: Options, onnx_path: str | None, workdir: str) -> tuple[Callable[[], None], str]:
    from ..onnx.runner import OnnxRunner

    if onnx_path is None:
        onnx_path = _export(case, workdir)
    runner = OnnxRunner(onnx_path, threads=opts.threads)
    x, _ = _inputs(case, torch.device("cpu"))
    return (lambda: runner(x)), onnx_path


def _torch_step(library: str, case: Case, p: Plan, opts: Options) -> Callable[[], None]:
    device = torch.device(opts.device)
    model = build(p.builder, case.shape).to(device)
    x, y = _inputs(case, device)
    amp = lambda: accel.autocast(device, opts.precision)  # noqa: E731 -- a fresh context per step
    if case.mode == "infer":
        fn = accel.compile_for_inference(model) if p.compile else model

        def infer() -> None:
            with torch.inference_mode(), amp():
                fn(x)

        return infer
    model.train()
    fn = accel.compile_for_training(model) if p.compile else model
    if p.builder == "vitkit":
        optimizer = build_optimizer(model.parameters(), "adamw", lr=1e-4, weight_decay=0.01)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def train() -> None:
        optimizer.zero_grad(set_to_none=True)
        with amp():
            loss = F.cross_entropy(fn(x), y)
        loss.backward()
        optimizer.step()

    return train


def make_workload(
    library: str, case: Case, opts: Options, workdir: str | None = None, onnx_path: str | None = None
) -> Workload:
    """Build ``library``'s model for ``case`` and its step (an ONNX file goes to ``workdir``, or is reused)."""
    p = plan(library, case, opts)
    start = time.perf_counter()
    sync = None
    if library in DEPLOY_PEERS:
        step = peer_step(library, case, opts.threads, opts.precision)
    elif p.backend == "onnxruntime":
        step, onnx_path = _onnx_step(case, opts, onnx_path, workdir or tempfile.gettempdir())
    elif p.backend in ("openvino", "openvino-int8"):
        onnx_path = onnx_path or _export(case, workdir or tempfile.gettempdir())
        step = vitkit_openvino_step(onnx_path, case, opts.threads, opts.precision, int8=p.backend == "openvino-int8")
    else:
        step, sync = _torch_step(library, case, p, opts), accel.synchronizer(opts.device)
    return Workload(library, case, p, step, sync, time.perf_counter() - start, onnx_path)
