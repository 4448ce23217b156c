"""The paper's pipeline in miniature, on built-in data (``vitkit demo``, ``make demo``).

The pipeline is the reproduce experiment ``demo`` (``reproduce/experiments/demo.toml``): a small ViT
pre-trained on Fashion-MNIST, supervised and by masked patch prediction (§4.6), each fine-tuned on MNIST-5k
at a higher resolution, against the same architecture trained from scratch; the paired comparisons on
MNIST-5k's held-out images and the targets are declared there too. ``vitkit reproduce demo`` runs the same
grid. This module runs it with the demo's defaults -- two seeds of the MNIST-5k runs (the pre-trainings
are shared), two one-thread worker processes -- and presents the result.

Resuming is reproduce's: every run is a folder under ``OUT/<run>/s<seed>/`` finished when its
``result.json`` exists; run the demo again and finished runs are read back, a killed one continues from
its last checkpoint, and a folder holding a run with other settings is refused in one line.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .reproduce import load_experiment, run_experiment
from .reproduce.declaration import Experiment
from .reproduce.workers import cores

SEEDS = 2  # MNIST-5k runs with seeds 0 and 1; the pre-trained models are shared
QUICK_STEPS = 6  # --quick: every training run this many steps, a pipeline check in seconds


def demo_experiment(full: bool = False, quick: bool = False) -> Experiment:
    """The demo's grid: the 10-minute budget (``small``), or ``full``; ``quick`` cuts every run to a few steps."""
    exp = load_experiment("demo", "full" if full else "small")
    if not quick:
        return exp
    runs = []
    for run in exp.runs:
        settings = {k: v for k, v in run.get("set", {}).items() if k != "epochs"}
        settings |= {"steps": QUICK_STEPS, "warmup_steps": 1, "log_every": 3, "checkpoint_every": 3}
        runs.append(dataclasses.replace(run, fields={**run.fields, "set": settings}))
    return dataclasses.replace(exp, runs=runs)


def demo_model() -> dict[str, Any]:
    """The demo's ViT as ``create_model("ViT-Ti/16", **demo_model())`` overrides (from its scratch run)."""
    from .train.spec import route_sets

    run = demo_experiment().run("scratch")
    return route_sets(run.get("recipe"), dict(run.get("set", {})))[1]


def run_demo(
    out: str | Path = "runs/demo",
    *,
    full: bool = False,
    quick: bool = False,
    seeds: int = SEEDS,
    workers: int | None = None,
    device: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or go on with) the demo under ``out``; returns its report (``OUT/results.json``).

    ``workers``: processes sharing the grid (default: two on a CPU with two cores or more, one on a GPU).
    """
    if seeds < 1:
        raise ConfigError(f"demo --seeds: expected at least 1 fine-tune/scratch seed, got {seeds}")
    if workers is None:
        workers = 2 if cores() >= 2 and device in (None, "cpu") else 1
    if workers < 1:
        raise ConfigError(f"demo --workers: expected at least 1, got {workers}")
    exp = demo_experiment(full, quick)
    run_experiment(exp, out, seeds, device, log=log, workers=workers)
    return json.loads((Path(out) / "results.json").read_text())


WHAT = {
    "pretrain": "Fashion-MNIST test",
    "pretrain-mpp": "masked patches",
    "finetune": "MNIST-5k held-out",
    "finetune-mpp": "MNIST-5k held-out",
    "scratch": "MNIST-5k held-out",
}


def results_table(report: dict[str, Any]) -> str:
    """The demo's result as printed: each run's top-1 (per seed and mean), the paired comparisons, the targets."""
    head = f"{'run':<13} {'evaluated on':<19} {'top-1':>7} {'steps':>6} {'seconds':>8}"
    lines = [f"{head}  top-1 per seed (top-1: mean over seeds; seconds: all seeds)"]
    for name, run in report["runs"].items():
        rows = [r for r in run["per_seed"] if "error" not in r]
        if not rows:
            continue
        metric = "mpp_top1" if "mpp_top1" in rows[0] else "top1"  # masked-patch accuracy: no labels, no test
        values = [r[metric] for r in rows if metric in r]
        if not values:
            continue
        mean = sum(values) / len(values)
        per_seed = " ".join(f"{v:.4f}" for v in values) if run["seeded"] else ""
        seconds = sum(r.get("seconds", 0.0) for r in rows)
        row = f"{name:<13} {WHAT.get(name, ''):<19} {mean:>7.4f} {rows[0]['steps']:>6} {seconds:>8.1f}  {per_seed}"
        lines.append(row.rstrip())
    for name, c in report.get("comparisons", {}).items():
        lo, hi = c["ci95"]
        discordant = ", ".join(f"b={p['only_a']} c={p['only_b']} p={p['p_mcnemar']:.3g}" for p in c["per_seed"])
        lines.append(
            f"{name}: top-1 {c['a']['mean']:.4f} vs {c['b']['mean']:.4f} over {len(c['seeds'])} seed(s)\n"
            f"  paired difference {c['diff']:+.4f} +- {c['se']:.4f} (SE over {c['per_seed'][0]['n']} held-out images), "
            f"95% interval [{lo:+.4f}, {hi:+.4f}], p = {c['p']:.2g}\n"
            f"  per seed, images only the first / only the second got right, McNemar's exact p: {discordant}"
        )
    for t in report.get("targets", []):
        state = {True: "met", False: "NOT MET", None: "not measured"}[t["met"]]
        value = "-" if t["value"] is None else f"{t['value']:.4f}"
        lines.append(f"target: {t['target']}: {value} ({state})")
    lines.append(f"total {report['this_invocation']['seconds']:.0f} s in this invocation")
    return "\n".join(lines)
