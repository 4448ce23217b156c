"""Mean, sample standard deviation and standard error of a metric over seeds."""

from __future__ import annotations

import math
import statistics
from typing import Any

from ..use.compare import sample_std


def summarize(values: list[float]) -> dict[str, Any]:
    """``{"mean", "std", "se", "n", "values"}``; std is the sample std (n - 1), se = std / sqrt(n);
    with one value std and se are None (one seed measures no spread)."""
    n = len(values)
    mean = statistics.fmean(values)
    std = sample_std(values)
    return {
        "mean": mean,
        "std": std,
        "se": std / math.sqrt(n) if std is not None else None,
        "n": n,
        "values": list(values),
    }


def summarize_runs(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per run, per numeric metric found in its results: the summary over seeds."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, rows in results.items():
        keys = sorted({k for r in rows for k, v in r.items() if k != "seed" and isinstance(v, (int, float))})
        out[name] = {k: summarize([float(r[k]) for r in rows if isinstance(r.get(k), (int, float))]) for k in keys}
    return out


def fmt(s: dict[str, Any] | None, digits: int = 4) -> tuple[str, str]:
    """``("0.8123 ± 0.0041", "0.0024")`` for a summary; ``("—", "—")`` when missing."""
    if not s:
        return "—", "—"
    if abs(s["mean"]) >= 1e4:  # FLOPs and other counts
        return (f"{s['mean']:.3e}" + (f" ± {s['std']:.1e}" if s["std"] is not None else "")), (
            f"{s['se']:.1e}" if s["se"] is not None else "—"
        )
    if s["std"] is None:
        return f"{s['mean']:.{digits}f}", "—"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}", f"{s['se']:.{digits}f}"
