"""An experiment's figures (PNG, written without pyplot's global state).

``bar``: one column per run (mean of ``metric`` with a standard-error bar, each seed a grey dot);
``line``: runs grouped by their ``group``, ``metric`` against their ``x`` (or against another metric,
``x = "train_flops"``), error bars = standard error, ``pareto = true`` draws each group's front;
``copy``: files a run wrote itself (``inspect``'s figures), from its seed-0 folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .declaration import Experiment

DPI = 90


def draw_figures(exp: Experiment, report: dict[str, Any], out: Path) -> list[str]:
    """Draw every figure whose data exists; return the file names written."""
    written = []
    for fig in exp.figures:
        draw = {"bar": _bar, "line": _line, "copy": _copy}[fig["kind"]]
        if draw(fig, report, out):
            written.append(fig["file"])
    return written


def _new_figure(size: tuple[float, float] = (6.4, 3.8)) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=DPI, layout="constrained")


def _stat(report: dict[str, Any], run: str, metric: str) -> dict[str, Any] | None:
    return report["runs"][run]["summary"].get(metric)


def _bar(fig_decl: dict[str, Any], report: dict[str, Any], out: Path) -> bool:
    metric = fig_decl["metric"]
    runs = [r for r in fig_decl.get("runs", list(report["runs"])) if _stat(report, r, metric)]
    if not runs:
        return False
    fig = _new_figure((max(4.0, 0.7 * len(runs) + 2), 3.8))
    ax = fig.add_subplot()
    for i, name in enumerate(runs):  # a dot plot, not bars: accuracy axes do not start at zero
        s = _stat(report, name, metric)
        ax.scatter([i] * s["n"], s["values"], color="0.55", s=10, zorder=2)
        ax.errorbar(i, s["mean"], yerr=s["se"] or 0.0, fmt="o", color="#1f4e9c", capsize=4, zorder=3)
    ax.set_xticks(
        range(len(runs)), runs, rotation=35 if len(runs) > 4 else 0, ha="right" if len(runs) > 4 else "center"
    )
    _labels(ax, fig_decl, metric, report)
    fig.savefig(out / fig_decl["file"])
    return True


def _line(fig_decl: dict[str, Any], report: dict[str, Any], out: Path) -> bool:
    metric, xkey = fig_decl["metric"], fig_decl.get("x", "x")
    groups: dict[str, list[tuple[float, dict[str, Any], float]]] = {}
    for name, r in report["runs"].items():
        s = _stat(report, name, metric)
        x = r["x"] if xkey == "x" else (_stat(report, name, xkey) or {}).get("mean")
        if s and x is not None and name in fig_decl.get("runs", report["runs"]):
            groups.setdefault(r["group"] or name, []).append((float(x), s, 0.0))
    if not groups:
        return False
    fig = _new_figure()
    ax = fig.add_subplot()
    for group, points in groups.items():
        points.sort(key=lambda p: p[0])
        xs, ys = [p[0] for p in points], [p[1]["mean"] for p in points]
        ax.errorbar(
            xs,
            ys,
            yerr=[p[1]["se"] or 0.0 for p in points],
            marker="o",
            capsize=3,
            label=group,
            linestyle="none" if fig_decl.get("pareto") else "-",
        )
        if fig_decl.get("pareto"):
            front = pareto_front(list(zip(xs, ys)))
            ax.plot([p[0] for p in front], [p[1] for p in front], color=ax.lines[-1].get_color() if ax.lines else None)
    if fig_decl.get("log_x"):
        ax.set_xscale("log")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the plot: it hides no point
    _labels(ax, fig_decl, metric, report, xlabel=fig_decl.get("xlabel", xkey))
    fig.savefig(out / fig_decl["file"], bbox_inches="tight")
    return True


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by any cheaper (smaller x) point with at least their y, in order of x."""
    front, best = [], float("-inf")
    for x, y in sorted(points):
        if y > best:
            front.append((x, y))
            best = y
    return front


def _copy(fig_decl: dict[str, Any], report: dict[str, Any], out: Path) -> bool:
    src = out / fig_decl["run"] / "s0" / fig_decl.get("source", fig_decl["file"])
    if not src.is_file():
        return False
    shutil.copyfile(src, out / fig_decl["file"])
    return True


def _labels(ax: Any, fig_decl: dict[str, Any], metric: str, report: dict[str, Any], xlabel: str | None = None) -> None:
    n = max((s["n"] for r in report["runs"].values() if (s := r["summary"].get(metric))), default=0)
    ax.set_title(fig_decl.get("title", report["title"]) + f"\n(n = {n} seeds, mean ± standard error)", fontsize=9)
    ax.set_ylabel(fig_decl.get("ylabel", metric))
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
