"""The benchmark's result as a table and as JSON, and the comparison the issue asks for.

Per case: every library's images/s (median and range over the rounds), achieved GFLOP/s and its share of
the measured fp32 matmul peak, peak memory; then vitkit against the fastest peer (speed) and the leanest
peer (memory). Peers are the other libraries; vitkit's own variants (``vitkit-eager``...) are not peers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..runtime.mkl_amd import kernels_name
from .deploy import DEPLOY_PEERS, column_precision, ov_precision
from .peers import PEERS

ALL_PEERS = (*PEERS, *DEPLOY_PEERS)


def _cases(rows: list[dict[str, Any]]) -> Iterable[tuple[tuple[str, str, int], list[dict[str, Any]]]]:
    keys: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        keys.setdefault((r["model"], r["mode"], r["batch"]), []).append(r)
    return keys.items()


def _median(r: dict[str, Any]) -> float | None:
    return r["img_s"]["median"] if "img_s" in r else None


def _peak_mib(r: dict[str, Any]) -> float | None:
    mem = r.get("memory") or {}
    return mem.get("peak_mib")


def compare(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """vitkit's speed over the fastest peer's and its peak memory over the leanest peer's, for one case."""
    vit = next((r for r in rows if r["library"] == "vitkit" and _median(r)), None)
    peers = [r for r in rows if r["library"] in ALL_PEERS and _median(r)]
    int8 = next((r for r in rows if r["library"] == "vitkit-int8" and _median(r)), None)
    if vit is None or not peers:
        return None
    fastest = max(peers, key=_median)
    out = {"fastest_peer": fastest["library"], "speedup": _median(vit) / _median(fastest)}
    if int8 is not None:  # the int8 graph against vitkit as it runs (fp32)
        out["int8_speedup"] = _median(int8) / _median(vit)
    mems = [r for r in peers if _peak_mib(r)]
    if _peak_mib(vit) and mems:
        leanest = min(mems, key=_peak_mib)
        out.update(leanest_peer=leanest["library"], memory_ratio=_peak_mib(vit) / _peak_mib(leanest))
    return out


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One comparison per case: ``{"model", "mode", "batch", "fastest_peer", "speedup", ...}``."""
    out = []
    for (model, mode, batch), rows in _cases(result["results"]):
        c = compare(rows)
        if c:
            out.append({"model": model, "mode": mode, "batch": batch, **c})
    return out


def _label(r: dict[str, Any], precision: str = "fp32") -> str:
    """The row's library, what ran it and, for the runtimes that choose their own, the precision computed in."""
    lib = r["library"]
    exact = column_precision(lib, precision)
    if lib in DEPLOY_PEERS:
        return f"{lib} (timm, {exact})"
    if lib.startswith("vitkit") and r.get("backend"):
        backend = r["backend"]
        if backend == "torch":
            how = "compiled" if r.get("compiled") else "eager"
        else:
            how = "openvino" if backend.startswith("openvino") else backend
            exact = exact or (ov_precision(precision) if backend == "openvino" else None)
            how += f", {exact}" if exact else ""
        if lib == "vitkit" or how not in lib:
            lib = f"{lib} ({how})"
    return lib


def _fmt(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _header(result: dict[str, Any]) -> list[str]:
    m, mm, precision = result["machine"], result["matmul"], result["options"]["precision"]
    gemms = ", ".join(k for k, v in mm["before"].items() if isinstance(v, dict))
    return [
        f"vitkit bench: {m['device']} ({m['processor']}), {m['threads']} threads, torch {m['versions']['torch']}, "
        f"{precision}; {result['repeats']} alternating rounds, images/s as median [min, max]",
        f"{precision} matmul peak ({mm['before']['n']}^3, best of {gemms}): {mm['peak_gflops']:.1f} GFLOP/s "
        f"(before the cases {mm['before']['best']:.1f}, after {mm['after']['best']:.1f})",
        *_blas_lines(result),
        "",
    ]


def _blas_lines(result: dict[str, Any]) -> list[str]:
    """Which GEMM kernels vitkit ran on, and where and on which kernels the peers ran."""
    line = result["machine"].get("blas_line")
    if not line:
        return []
    lines = [f"vitkit: {line}"]
    peers = result.get("peers_process")
    if peers:
        kernels = kernels_name(peers["blas"]["mkl_cpu_type"])
        torch_mm = result["matmul"].get("peers_process", {}).get("torch", {}).get("best")
        mm = f"; torch matmul there {torch_mm:.1f} GFLOP/s" if torch_mm else ""
        lines.append(f"peers: as their users run them, in a separate process without that library: {kernels}{mm}")
    else:
        lines.append("peers: in this process, on the same kernels as vitkit")
    return lines


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of ``result`` (from ``run_bench``)."""
    lines = _header(result)
    head = (
        f"{'model':<6} {'mode':<5} {'batch':>5}  {'library':<34} {'images/s':>26} {'GFLOP/s':>8} {'%peak':>6} "
        f"{'peak MiB':>9}"
    )
    lines += [head, "-" * len(head)]
    precision = result["options"]["precision"]
    for (model, mode, batch), rows in _cases(result["results"]):
        for r in rows:
            if r.get("error"):
                what = r["error"] if r["error"].startswith(("not installed", "fp32 only")) else f"error: {r['error']}"
                lines.append(f"{model:<6} {mode:<5} {batch:>5}  {_label(r, precision):<34} {what}")
                continue
            s = r["img_s"]
            rate = f"{s['median']:.2f} [{s['min']:.2f}, {s['max']:.2f}]"
            frac = _fmt(r.get("peak_fraction") and 100 * r["peak_fraction"], ".0f")
            lines.append(
                f"{model:<6} {mode:<5} {batch:>5}  {_label(r, precision):<34} {rate:>26} {r['gflops']:>8.1f} "
                f"{frac:>5}% {_fmt(_peak_mib(r), '.1f'):>9}"
            )
        c = compare(rows)
        if c:
            mem = f"; memory / {c['leanest_peer']}: {c['memory_ratio']:.2f}x" if "memory_ratio" in c else ""
            lines.append(f"{'':<20}vitkit / fastest peer ({c['fastest_peer']}): {c['speedup']:.2f}x{mem}")
            if "int8_speedup" in c:
                lines.append(f"{'':<20}vitkit-int8 / vitkit: {c['int8_speedup']:.2f}x (speed only; accuracy: quantize)")
        lines.append("")
    lines += _pipeline_lines(result.get("pipeline"))
    lines.append(f"total {result['seconds']:.0f} s")
    return "\n".join(lines)


def _pipeline_lines(pipeline: dict[str, Any] | None) -> list[str]:
    if not pipeline:
        return []
    lines = ["input pipeline (training loader, no worker processes):"]
    for name, p in pipeline.items():
        if "error" in p:
            lines.append(f"  {name}: error: {p['error']}")
            continue
        step = (
            (
                f"; vitkit {p['train_model']} training step {p['train_img_s']:.1f} img/s, loading = "
                f"{100 * p['load_over_step']:.1f}% of step time"
            )
            if p.get("train_img_s")
            else ""
        )
        lines.append(f"  {name}: {p['img_s']:.0f} img/s (batch {p['batch']}){step}")
    return lines + [""]


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``result`` with the per-case comparison added under ``summary``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**result, "summary": summary(result)}, indent=1))
    return path
