"""Peak memory of one (library, case), each measured in a fresh process.

Why a process each: freed memory stays with the allocator (and the process) after a workload ends, so a
second workload in the same process would appear to need less. Why not tracemalloc: it sees Python's
allocations, not torch's or onnxruntime's.

Method (Linux, CPU): the child first runs the same workload on a tiny model (for onnxruntime: the tiny
model exported), so that everything imported or set up lazily is in place -- ``torch.optim`` alone pulls in
~175 MiB of ``torch._dynamo`` on first use, which timm and transformers import up front and vitkit does
not -- and reads its resident set size (RSS, the baseline); builds the workload and runs one warm-up step
(compilation, lazy buffers, optimizer state); resets the kernel's high-water mark (``/proc/self/clear_refs``
= 5) and runs ``steps`` steps; then reads the high-water mark (``VmHWM``). Reported, in MiB:

- ``peak_mib``: high-water mark minus the baseline -- everything the workload holds at its peak:
  weights, gradients and optimizer state, activations, workspace, compiled code;
- ``step_mib``: high-water mark minus the RSS just before the timed steps -- what a step adds on top.

The child runs with glibc's mmap threshold pinned (``MALLOC_MMAP_THRESHOLD_``): large blocks then always
go back to the system when freed, so RSS follows the live tensors rather than the allocator's history
(with the default, dynamic threshold, the same tensors could leave different RSS behind).

Without a resettable high-water mark the lifetime peak (``ru_maxrss``) stands in (``method`` says so). On
CUDA, ``torch.cuda.max_memory_allocated`` during the steps is used instead (``peak_mib`` includes the
weights; ``step_mib`` is the peak minus the memory allocated before the steps).
"""

from __future__ import annotations

import gc
import json
import os
import re
import resource
import subprocess
import sys
from typing import Any

import torch

from .cases import SHAPES, Case
from .peers import import_library
from .workload import Options, make_workload, plan

MIB = 2**20
MMAP_THRESHOLD = 128 * 1024  # glibc's initial default, kept from changing


def _status_kib(field: str) -> int | None:
    try:
        text = open("/proc/self/status").read()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_here(
    library: str,
    case: Case,
    opts: Options,
    onnx_path: str | None = None,
    steps: int = 2,
    tiny_onnx_path: str | None = None,
) -> dict[str, Any]:
    """Measure in this process (meant for a fresh child; see the module docstring)."""
    from ..runtime import accel

    accel.set_threads(opts.threads)
    import_library(library)
    tiny = Case(SHAPES["tiny"], case.mode, case.batch)  # the batch too: the plan may depend on it
    if plan(library, case, opts).backend == "onnxruntime":
        import onnxruntime  # noqa: F401

        if tiny_onnx_path:
            make_workload(library, tiny, opts, onnx_path=tiny_onnx_path).step()
    else:
        make_workload(library, tiny, opts).step()
    gc.collect()
    base = _rss_bytes()
    work = make_workload(library, case, opts, onnx_path=onnx_path)
    work.step()
    if torch.device(opts.device).type == "cuda":
        torch.cuda.synchronize()
        base, before = 0, torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(steps):
            work.step()
        torch.cuda.synchronize()
        peak, method = torch.cuda.max_memory_allocated(), "cuda.max_memory_allocated"
    else:
        before = _rss_bytes()
        resettable = _reset_peak()
        for _ in range(steps):
            work.step()
        if resettable:
            peak, method = (_status_kib("VmHWM") or 0) * 1024, "VmHWM after clear_refs"
        else:
            peak, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss (lifetime peak)"
    return {"peak_mib": (peak - base) / MIB, "step_mib": (peak - before) / MIB, "method": method}


def measure(
    library: str,
    case: Case,
    opts: Options,
    onnx_path: str | None = None,
    steps: int = 2,
    tiny_onnx_path: str | None = None,
    timeout_s: float = 1800,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Peak memory of ``library`` on ``case``, measured in a fresh Python process (``env``: set there too).

    onnxruntime workloads run the exported ``onnx_path``; ``tiny_onnx_path`` (the tiny shape, exported) is
    their warm-up model, so that onnxruntime's own set-up is not charged to the model, as torch's is not.
    """
    spec = {
        "library": library,
        "case": case.to_json(),
        "options": opts.to_dict(),
        "onnx_path": onnx_path,
        "steps": steps,
        "tiny_onnx_path": tiny_onnx_path,
    }
    env = {**os.environ, **(env or {}), "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory measurement of {library} {case.key} failed: {tail}")
    return json.loads(lines[-1])


def _main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    case = Case.from_json(spec["case"])
    result = measure_here(
        spec["library"], case, Options(**spec["options"]), spec["onnx_path"], spec["steps"], spec["tiny_onnx_path"]
    )
    print(json.dumps(result))


# the child starts as the vitkit command does: MKL's kernels chosen (vitkit.runtime.mkl_amd) before torch is imported
_CHILD = (
    "import sys, vitkit.runtime.mkl_amd as m; m.enable(); from vitkit.bench.memory import _main; _main(sys.argv[1:])"
)

if __name__ == "__main__":
    _main(sys.argv[1:])
