"""``run_bench``: every case, every library, timed in alternation; then FLOP rates, memory, the pipeline.

Per case, all libraries' models are built and timed round-robin (``timing.alternate``): vitkit in this
process, with its MKL library where ``vitkit.runtime.mkl_amd`` loaded it; the peers as their users run them -- in
a worker process without that library (``worker``) when it is loaded here, in this process otherwise or
when asked (``peers_apart=False``: every library on the same kernels). Peak memory is then measured per
library in a fresh process each (``memory``; the peers' again without the library). The matmul peak (the
best of torch's, numpy's and onnxruntime's GEMM; ``matmul_peak``) is measured before and after the
cases, in the same thread setting (and in the worker); achieved FLOP rates are compared with the best.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import platform
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import torch

from ..models.config import ViTConfig
from ..models.flops import count_macs
from ..runtime import accel, mkl_amd
from ..use.timing import Stats, alternate
from .cases import DEFAULT_LIBRARIES, SHAPES, Case, Shape
from .deploy import NotInstalled
from .matmul_peak import matmul_gflops
from .memory import measure
from .worker import PeerProcess, RemoteWorkload, WorkerError, build_remote
from .workload import INFER_ONLY, VITKIT_VARIANTS, Options, Workload, auto_applies, make_workload, measured_auto, plan

SCHEMA = "vitkit.bench/1"
Progress = Callable[[str], None]


@functools.cache
def forward_gflop(shape: Shape, executed: bool = False) -> float:
    """GFLOP of one image's forward pass (2 FLOP per multiply-add, counted by ``vitkit.models.flops``): the whole
    model, as the peers run it, or (``executed``) what vitkit runs -- its last block for the class token only."""
    cfg = ViTConfig(**shape.vitkit_overrides())
    return 2 * count_macs(cfg, executed=executed) / 1e9


def case_gflop(case: Case, library: str) -> float:
    """Per image, as ``library`` computes it: the forward pass for inference; about three forward passes
    for a training step. GFLOP/s are the arithmetic done per second, so vitkit is charged what it runs."""
    return forward_gflop(case.shape, executed=library in VITKIT_VARIANTS) * (3 if case.mode == "train" else 1)


def machine_info(opts: Options) -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    device = torch.device(opts.device)
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": opts.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "versions": {
            name: version(name)
            for name in (
                *("vitkit", "torch", "torchvision", "timm", "transformers"),
                *("onnxruntime", "onnx", "openvino", "nncf"),
            )
        },
        "blas": mkl_amd.status(),
        "blas_line": mkl_amd.describe(),
    }


def distinct(case: Case, libraries: list[str], opts: Options) -> list[str]:
    """``libraries`` less vitkit variants that would run exactly as an earlier one (e.g. ``vitkit-eager``
    in a training case, where ``vitkit`` runs eager too), and less the inference-only rows in training cases."""
    seen, out = set(), []
    for lib in libraries:
        if case.mode == "train" and lib in INFER_ONLY:
            continue
        key = plan(lib, case, opts) if lib in VITKIT_VARIANTS else lib
        if key not in seen:
            seen.add(key)
            out.append(lib)
    return out


def _build_all(
    case: Case,
    libraries: list[str],
    opts: Options,
    workdir: str,
    onnx_paths: dict[str, str],
    errors: dict[str, str],
    peers: PeerProcess | None,
) -> list[Workload | RemoteWorkload]:
    works: list[Workload | RemoteWorkload] = []
    for lib in libraries:
        try:
            if peers is not None and lib not in VITKIT_VARIANTS:
                works.append(build_remote(peers, lib, case, opts))
                continue
            w = make_workload(lib, case, opts, workdir, onnx_paths.get(case.shape.name))
            w.trial()
        except WorkerError as e:  # already "Type: message", as raised in the worker
            errors[lib] = str(e).removeprefix(f"{NotInstalled.__name__}: ")
            continue
        except NotInstalled as e:  # "not installed (pip install ...)": the row says so
            errors[lib] = str(e)
            continue
        except Exception as e:  # noqa: BLE001 -- a peer that cannot run is reported, not fatal
            errors[lib] = f"{type(e).__name__}: {e}".splitlines()[0]
            continue
        if w.onnx_path:
            onnx_paths[case.shape.name] = w.onnx_path
        works.append(w)
    return works


def _row(case: Case, w: Workload | RemoteWorkload | None, lib: str, stats: Stats | None) -> dict[str, Any]:
    gflop = case_gflop(case, lib)
    row: dict[str, Any] = {
        "model": case.shape.name,
        "mode": case.mode,
        "batch": case.batch,
        "library": lib,
        "gflop_per_image": gflop,
        "error": None,
        "memory": None,
    }
    if w is not None:
        row.update(backend=w.plan.backend, compiled=w.plan.compile, setup_s=w.setup_s, first_step_s=w.first_step_s)
    if stats is not None:
        row["img_s"] = stats.to_dict()
        row["gflops"] = stats.median * gflop
    return row


def run_case(
    case: Case,
    libraries: list[str],
    opts: Options,
    repeats: int,
    *,
    warmup: int = 2,
    min_sample_s: float = 0.5,
    memory: bool = True,
    workdir: str = ".",
    onnx_paths: dict[str, str] | None = None,
    progress: Progress | None = None,
    peers: PeerProcess | None = None,
) -> list[dict[str, Any]]:
    """Rows (one per library; see ``distinct``) for one case; the peers run in ``peers`` if given."""
    onnx_paths = {} if onnx_paths is None else onnx_paths
    say = progress or (lambda _: None)
    if "vitkit" in libraries and auto_applies(case, opts) and opts.auto_choice(case) is None:
        opts, line = measured_auto(case, opts, workdir)  # the vitkit row runs where auto would run it
        say(f"[{case.key}] vitkit {line}")
    libraries = distinct(case, libraries, opts)
    errors: dict[str, str] = {}
    works = _build_all(case, libraries, opts, workdir, onnx_paths, errors, peers)
    say(f"[{case.key}] timing {', '.join(w.library for w in works)} x {repeats} rounds")
    stats = alternate([w.contender() for w in works], repeats, warmup, min_sample_s) if works else {}
    rows = []
    by_name = {w.library: w for w in works}
    for lib in libraries:
        row = _row(case, by_name.get(lib), lib, stats.get(lib))
        row["error"] = errors.get(lib)
        if lib in stats:
            say(f"[{case.key}] {lib}: {stats[lib].median:.2f} img/s [{stats[lib].min:.2f}, {stats[lib].max:.2f}]")
        rows.append(row)
    del works, by_name
    gc.collect()
    if peers is not None:
        peers.call("release")
    if memory:
        for row in rows:
            if row["error"] is None:
                tiny = _tiny_onnx(workdir, onnx_paths) if row.get("backend") == "onnxruntime" else None
                apart = peers is not None and row["library"] not in VITKIT_VARIANTS
                row["memory"] = _memory(
                    row["library"],
                    case,
                    opts,
                    onnx_paths.get(case.shape.name),
                    tiny,
                    say,
                    {mkl_amd.ENV: "0"} if apart else None,
                )
    return rows


def _tiny_onnx(workdir: str, onnx_paths: dict[str, str]) -> str:
    """The tiny shape exported once per run: the warm-up model of onnxruntime memory measurements."""
    if "tiny" not in onnx_paths:
        from ..onnx.export import export_onnx
        from .peers import build

        onnx_paths["tiny"] = str(export_onnx(build("vitkit", SHAPES["tiny"]), os.path.join(workdir, "tiny.onnx")))
    return onnx_paths["tiny"]


def _memory(
    lib: str,
    case: Case,
    opts: Options,
    onnx_path: str | None,
    tiny_onnx_path: str | None,
    say: Progress,
    env: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    try:
        result = measure(lib, case, opts, onnx_path, steps=1, tiny_onnx_path=tiny_onnx_path, env=env)
    except Exception as e:  # noqa: BLE001 -- reported in the row
        return {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
    say(f"[{case.key}] {lib}: peak {result['peak_mib']:.1f} MiB")
    return result


def run_bench(
    cases: list[Case],
    libraries: list[str] | tuple[str, ...] = DEFAULT_LIBRARIES,
    repeats: int = 5,
    *,
    options: Options | None = None,
    warmup: int = 2,
    min_sample_s: float = 0.5,
    memory: bool = True,
    pipeline: bool = True,
    matmul_n: int = 2048,
    peers_apart: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Benchmark ``libraries`` on ``cases``; returns the JSON-able result (``report.format_table`` prints it).

    ``repeats`` rounds per case, after ``warmup`` untimed steps per library; each timed sample lasts at
    least ``min_sample_s``. ``memory``: measure peak memory (a fresh process per library and case).
    ``pipeline``: measure the input pipelines against the training steps. ``matmul_n``: the size of the
    square product that measures the matmul peak (smaller is quicker and further from the peak).
    ``peers_apart``: where vitkit's MKL library is loaded here (CPU), run the peers in a worker process
    without it, as their users run them; False runs them here, on the same kernels as vitkit.
    """
    opts = options or Options()
    accel.set_threads(opts.threads)
    say = progress or (lambda _: None)
    start = time.perf_counter()
    apart = (
        peers_apart
        and mkl_amd.status()["loaded"]
        and torch.device(opts.device).type == "cpu"
        and any(lib not in VITKIT_VARIANTS for lib in libraries)
    )
    with contextlib.ExitStack() as stack:
        peers = stack.enter_context(PeerProcess(opts.threads)) if apart else None
        say("matmul peak ...")
        dtype = torch.bfloat16 if opts.precision == "bf16" else torch.float32
        matmul = {"before": matmul_gflops(matmul_n, device=opts.device, dtype=dtype)}
        rows: list[dict[str, Any]] = []
        onnx_paths: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="vitkit-bench-") as workdir:
            for case in cases:
                rows += run_case(
                    case,
                    list(libraries),
                    opts,
                    repeats,
                    warmup=warmup,
                    min_sample_s=min_sample_s,
                    memory=memory,
                    workdir=workdir,
                    onnx_paths=onnx_paths,
                    progress=say,
                    peers=peers,
                )
        matmul["after"] = matmul_gflops(matmul_n, device=opts.device, dtype=dtype)
        if peers is not None:
            matmul["peers_process"] = peers.call("matmul", n=matmul_n)
        peers_info = None if peers is None else {"blas": peers.hello["blas"], "threads": peers.hello["threads"]}
    matmul["peak_gflops"] = max(m["best"] for m in matmul.values() if isinstance(m, dict))
    for row in rows:  # against the best matmul seen in the run
        if "gflops" in row:
            row["peak_fraction"] = row["gflops"] / matmul["peak_gflops"]
    result = {
        "schema": SCHEMA,
        "machine": machine_info(opts),
        "options": opts.to_dict(),
        "repeats": repeats,
        "warmup": warmup,
        "min_sample_s": min_sample_s,
        "matmul": matmul,
        "peers_process": peers_info,
        "results": rows,
        "pipeline": None,
    }
    if pipeline:
        result["pipeline"] = pipeline_check(rows, say)
    result["seconds"] = time.perf_counter() - start
    return result


def pipeline_check(rows: list[dict[str, Any]], say: Progress) -> dict[str, Any]:
    """Loader images/s for Fashion-MNIST and a JPEG folder, against vitkit's training step rates."""
    from . import pipeline as pl

    def train_rate(model: str) -> float | None:
        for r in rows:
            if r["model"] == model and r["mode"] == "train" and r["library"] == "vitkit" and "img_s" in r:
                return r["img_s"]["median"]
        return None

    def jpeg_rate() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="vitkit-jpegs-") as d:
            return pl.jpeg_folder_rate(pl.write_jpeg_folder(d, 80))

    out: dict[str, Any] = {}
    for name, fn, model in (("fashion-mnist", pl.fashion_mnist_rate, "demo"), ("jpeg-folder", jpeg_rate, "Ti/16")):
        say(f"input pipeline: {name} ...")
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001 -- e.g. no Fashion-MNIST offline
            out[name] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
            continue
        step = train_rate(model)
        # loading one image takes this fraction of the time a training step spends on it
        res.update(train_model=model, train_img_s=step, load_over_step=(step / res["img_s"]) if step else None)
        out[name] = res
    return out
