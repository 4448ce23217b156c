"""Run an experiment's grid over seeds, resumably, and write its report.

Every run lives in ``OUT/<run>/s<seed>/``; its metrics go to ``result.json`` there, written atomically
when it finishes. A run with that file is finished and skipped; one without it starts again, and a
training run then continues from its own last checkpoint (the trainer's resume). So a killed
``vitkit reproduce`` started again goes on where it was. Seeds run in order (seed 0's whole grid
first), so a partial grid already gives complete seeds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from .decl import Experiment, RunDecl
from .jobs import execute
from .report import write_report

RESULT_FILE = "result.json"


@dataclass
class Progress:
    """What one invocation did: runs executed and runs skipped as already finished."""

    executed: int = 0
    skipped: int = 0
    seconds: float = 0.0


def run_folder(out: Path, run: RunDecl, seed: int) -> Path:
    return out / run.name / f"s{seed if run.seeded else 0}"


def planned(exp: Experiment, seeds: int) -> list[tuple[RunDecl, int]]:
    """(run, seed) pairs in execution order; an unseeded run appears once, with seed 0."""
    return [(run, seed) for seed in range(seeds) for run in exp.runs if run.seeded or seed == 0]


def run_experiment(
    exp: Experiment,
    out: str | Path,
    seeds: int = 3,
    device: str | None = None,
    log: Callable[[str], None] = print,
    report_only: bool = False,
) -> Progress:
    """Run every (run, seed) of ``exp`` under ``out`` that is not finished yet, then write the report.

    ``report_only``: run nothing; write the report of the runs finished so far (a grid cut short).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    t0 = time.perf_counter()
    plan = planned(exp, seeds)
    for i, (run, seed) in enumerate(plan, 1):
        folder = run_folder(out, run, seed)
        if (folder / RESULT_FILE).is_file() or report_only:
            progress.skipped += (folder / RESULT_FILE).is_file()
            continue
        log(f"[{i}/{len(plan)}] {exp.name}: {run.name} seed {seed}")
        parent = run_folder(out, exp.run(run.parent), seed) if run.parent else None
        try:
            if parent is not None and "error" in json.loads((parent / RESULT_FILE).read_text()):
                raise FloatingPointError(f"{run.parent} diverged")
            metrics = execute(run, folder, seed if run.seeded else 0, parent, device)
        except FloatingPointError as e:  # a diverged run (too high a learning rate) is a result, not a crash
            metrics = {"error": str(e)}
            log(f"{exp.name}: {run.name} seed {seed} diverged: {e}")
        write_atomic(folder / RESULT_FILE, lambda f, m=metrics: f.write(json.dumps(m, indent=1).encode()))
        progress.executed += 1
    progress.seconds = round(time.perf_counter() - t0, 1)
    write_report(exp, out, seeds, progress, collect(exp, out, seeds))
    return progress


def collect(exp: Experiment, out: Path, seeds: int) -> dict[str, list[dict[str, Any]]]:
    """Finished results per run name: a list of metric dicts, one per seed (with ``seed`` added)."""
    results: dict[str, list[dict[str, Any]]] = {run.name: [] for run in exp.runs}
    for run, seed in planned(exp, seeds):
        path = run_folder(out, run, seed) / RESULT_FILE
        if path.is_file():
            results[run.name].append({"seed": seed, **json.loads(path.read_text())})
    return results
