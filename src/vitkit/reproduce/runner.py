"""Run an experiment's grid over seeds, resumably, and write its report.

Every run lives in ``OUT/<run>/s<seed>/``; its metrics go to ``result.json`` there, written atomically
when it finishes. A run with that file is finished and skipped; one without it starts again, and a
training run then continues from its own last checkpoint (the trainer's resume). So a killed
``vitkit reproduce`` started again goes on where it was. Seeds run in order (seed 0's whole grid
first), so a partial grid already gives complete seeds.

Several workers can share one grid (``--workers N``, torchrun ranks, or two invocations on one folder):
each run is claimed while it runs (``claims``), and a run waits for its ``from`` run to finish.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .declaration import Experiment, RunDecl
from .grid import RESULT_FILE, is_done, planned, run_folder, work
from .report import write_report
from .workers import run_in_processes


@dataclass
class Progress:
    """What one invocation did: runs executed and runs skipped as already finished."""

    executed: int = 0
    skipped: int = 0  # finished before this invocation started
    seconds: float = 0.0


def run_experiment(
    exp: Experiment,
    out: str | Path,
    seeds: int = 3,
    device: str | None = None,
    log: Callable[[str], None] = print,
    report_only: bool = False,
    workers: int = 1,
    tag: str = "",
    report: bool = True,
    parents_first: bool = False,
) -> Progress:
    """Run every (run, seed) of ``exp`` under ``out`` that is not finished yet, then write the report.

    ``report_only``: run nothing; write the report of the runs finished so far (a grid cut short).
    ``workers``: run the grid in that many processes at once (each with its share of the CPU threads).
    ``tag`` prefixes the progress lines; ``report=False`` leaves the report to another worker (a torchrun
    rank other than 0: every rank returns only once the whole grid is finished); ``parents_first``: see
    ``work`` (set for each of several workers; ``workers > 1`` sets it for its own).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    progress = Progress(skipped=len(finished(exp, out, seeds)))
    if not report_only:
        if workers > 1:
            progress.executed = run_in_processes(exp, out, seeds, device, workers, log)
        else:
            progress.executed = work(exp, out, seeds, device, log, tag, parents_first=parents_first)
    progress.seconds = round(time.perf_counter() - t0, 1)
    if report:
        write_report(exp, out, seeds, progress, collect(exp, out, seeds))
    return progress


def finished(exp: Experiment, out: Path, seeds: int) -> list[tuple[RunDecl, int]]:
    return [(run, seed) for run, seed in planned(exp, seeds) if is_done(out, run, seed)]


def collect(exp: Experiment, out: Path, seeds: int) -> dict[str, list[dict[str, Any]]]:
    """Finished results per run name: a list of metric dicts, one per seed (with ``seed`` added)."""
    results: dict[str, list[dict[str, Any]]] = {run.name: [] for run in exp.runs}
    for run, seed in finished(exp, out, seeds):
        path = run_folder(out, run, seed) / RESULT_FILE
        results[run.name].append({"seed": seed, **json.loads(path.read_text())})
    return results
