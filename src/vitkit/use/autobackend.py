"""``--backend auto``: the backend measured fastest for this (model file, batch size, machine), remembered.

Which runtime is fastest depends on the model, the batch and the CPU (eager torch wins some large batches on
MKL's AVX-512 kernels, onnxruntime most batch-1 calls, OpenVINO most on CPUs with AMX); a rule written on one
machine is wrong on the next. So the first time a file is used at a batch size, every installed backend that
can run it is timed for a few seconds in alternating rounds (``use.timing.alternate``) on random images of
the model's size, and the winner is remembered in ``VITKIT_HOME/backends.json`` (default ``~/.cache/vitkit``)
under the file (path and modification time), the batch, the CPU, the thread count and the runtimes' versions.
Later calls load the winner directly. ``vitkit bench --backends CKPT`` shows the table and re-measures.

A backend that cannot take the file (a model the ONNX exporter refuses) drops out with a note; torch is always
there for checkpoints. On a GPU, checkpoints run in torch (nothing measured). ``VITKIT_AUTO_BACKEND=static``
turns measuring off: ``.onnx`` files run in onnxruntime, ``.xml`` files in OpenVINO, checkpoints in torch
(the test suite sets it, to stay fast and hermetic). ``VITKIT_AUTO_SECONDS`` sets the time budget
(default 6: at 3 s with one warm-up step, onnxruntime and OpenVINO swapped places between runs at batch 1
on a 2-core Xeon, where they are within ~10%).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, VitkitError
from ..runtime.versions import package_version
from .runtimes import RUNS, Output, Say, file_kind, installed, load_backend

CACHE_NAME = "backends.json"
MAX_MEASURED_BATCH = 32  # larger batches are timed at 32: per-image throughput has levelled off by then
DEFAULT_SECONDS = 6.0  # the time budget of one measurement, all backends together
MAX_SECONDS = 3600.0
STATIC = {"checkpoint": "torch", "onnx": "onnxruntime", "openvino": "openvino"}


def cache_path() -> Path:
    from ..hub.cache import home

    return home() / CACHE_NAME


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key() -> dict[str, Any]:
    """What makes a measurement valid on this machine only: CPU, cores, threads, the runtimes' versions."""
    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "versions": {n: package_version(n) for n in ("torch", "onnxruntime", "openvino")},
    }


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file as the cache sees it: absolute path (or hub name) and modification time."""
    from ..checkpoint.identity import checkpoint_identity

    return checkpoint_identity(os.fspath(path))


def budget_seconds() -> float:
    """``VITKIT_AUTO_SECONDS`` (default ``DEFAULT_SECONDS``); a value that is not a time is one line naming it."""
    text = os.environ.get("VITKIT_AUTO_SECONDS") or ""
    if not text.strip():
        return DEFAULT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_SECONDS:
        raise ConfigError(f"VITKIT_AUTO_SECONDS: expected seconds > 0 and <= {MAX_SECONDS:g}, got {text!r}")
    return value


def measured_batch(batch_size: int) -> int:
    return max(1, min(int(batch_size), MAX_MEASURED_BATCH))


def cache_key(path: str | os.PathLike[str], batch: int, output: Output) -> str:
    ident = {"file": file_identity(path), "batch": measured_batch(batch), "output": output, "machine": machine_key()}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, entry: dict[str, Any]) -> Path | None:
    """Remember ``entry`` under ``key``; a cache that cannot be written costs a re-measurement, nothing else."""
    from ..atomic import write_atomic

    data = _read_cache()
    data[key] = entry
    try:
        return write_atomic(cache_path(), lambda f: f.write(json.dumps(data, indent=1).encode()))
    except OSError:
        return None


@dataclass
class Measurement:
    """Images/s per backend (median [min, max] over the rounds), the winner, and why others dropped out."""

    batch: int
    img_s: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def winner(self) -> str | None:
        return max(self.img_s, key=lambda b: self.img_s[b]["median"]) if self.img_s else None

    def line(self) -> str:
        rates = ", ".join(f"{b} {v['median']:.1f}" for b, v in self.img_s.items())
        return f"images/s at batch {self.batch}: {rates}"


def candidates(path: str | os.PathLike[str]) -> tuple[list[str], dict[str, str]]:
    """The installed backends that run ``path``'s kind of file, and the ones missing (with the hint)."""
    runs, missing = [], {}
    for b in RUNS[file_kind(path)]:
        if installed(b):
            runs.append(b)
        else:
            extra = "openvino" if b == "openvino" else "onnx"
            missing[b] = f"not installed (pip install 'vitkit[{extra}]')"
    return runs, missing


def measure(
    path: str | os.PathLike[str],
    batch_size: int,
    output: Output = "logits",
    *,
    seconds: float | None = None,
    backends: list[str] | None = None,
    keep: bool = False,
) -> Measurement:
    """Load ``path`` on each backend and time it at ``batch_size`` for about ``seconds`` in all.

    A backend that fails to load is recorded in ``skipped`` with its one-line reason; ``keep`` keeps the
    loaded models (``models``) so that the winner need not be loaded again.
    """
    from .timing import Contender, alternate

    seconds = budget_seconds() if seconds is None else seconds
    batch = measured_batch(batch_size)
    names, missing = candidates(path)
    result = Measurement(batch, skipped=dict(missing))
    for b in backends or names:
        try:
            result.models[b] = load_backend(path, b, "cpu", output)
        except VitkitError as e:
            result.skipped[b] = " ".join(str(e).split())
    contenders = []
    for b, model in result.models.items():
        cfg = model.config
        x = torch.randn(batch, cfg.in_chans, *cfg.image_size)
        fn = model.embed if output == "embedding" else model

        def step(fn: Any = fn, x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                fn(x)

        contenders.append(Contender(b, step, batch))
    if contenders:
        rounds = 3
        per_sample = seconds / (rounds * len(contenders))
        stats = alternate(contenders, rounds, warmup=2, min_sample_s=per_sample)
        result.img_s = {b: {"median": s.median, "min": s.min, "max": s.max} for b, s in stats.items()}
    if not keep:
        result.models.clear()
    return result


def remember(path: str | os.PathLike[str], output: Output, m: Measurement) -> Path | None:
    """Write ``m``'s winner to the cache (nothing when no backend ran)."""
    if m.winner is None:
        return None
    entry = {
        "backend": m.winner,
        "file": file_identity(path),
        "batch": m.batch,
        "output": output,
        "img_s": m.img_s,
        "skipped": m.skipped,
        "machine": machine_key(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return _write_cache(cache_key(path, m.batch, output), entry)


def remembered(path: str | os.PathLike[str], batch_size: int, output: Output) -> str | None:
    """The backend measured fastest before for this file, batch and machine; None if never measured."""
    try:
        entry = _read_cache().get(cache_key(path, batch_size, output))
    except OSError:  # the file vanished: loading will say so
        return None
    return entry.get("backend") if isinstance(entry, dict) else None


def choose(
    path: str | os.PathLike[str],
    device: str | None,
    output: Output,
    batch_size: int,
    *,
    say: Say | None = None,
) -> Any:
    """The model on the backend ``auto`` picks (see the module docstring)."""
    from ..runtime.device import pick_device

    say = say or (lambda _: None)
    kind = file_kind(path)
    static = os.environ.get("VITKIT_AUTO_BACKEND", "measure").lower() == "static"
    on_gpu = kind == "checkpoint" and pick_device(device).type != "cpu"
    if static or on_gpu or kind == "openvino":
        return load_backend(path, STATIC[kind], device, output)
    names, _ = candidates(path)
    if kind == "onnx" and not names:
        return load_backend(path, "onnxruntime", device, output)  # says what to install
    if len(names) == 1:
        return load_backend(path, names[0], device, output)
    known = remembered(path, batch_size, output)
    if known in names:
        try:
            return load_backend(path, known, device, output)
        except VitkitError as e:
            say(f"auto: {known}, remembered as fastest, failed ({e}); measuring again")
    if kind == "checkpoint":  # a user's error (a missing file, a feature extractor) is raised as torch raises it
        load_backend(path, "torch", device, output)
    m = measure(path, batch_size, output, keep=True)
    for b, why in m.skipped.items():
        if b in names:
            say(f"auto: {b} skipped: {why}; running {m.winner or 'torch'}")
    if m.winner is None:
        return load_backend(path, STATIC[kind], device, output)
    where = remember(path, output, m)
    kept = f" (remembered in {where})" if where else ""
    say(f"auto: {m.line()} -> {m.winner}{kept}")
    winner = m.models.pop(m.winner)  # measured on the CPU, where this path runs
    m.models.clear()
    return winner
