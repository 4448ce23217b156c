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

from ..atomic import write_atomic
from .claims import claim, claim_path
from .decl import Experiment, RunDecl
from .jobs import execute
from .report import write_report

RESULT_FILE = "result.json"


@dataclass
class Progress:
    """What one invocation did: runs executed and runs skipped as already finished."""

    executed: int = 0
    skipped: int = 0  # finished before this invocation started
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
            from .workers import run_in_processes

            progress.executed = run_in_processes(exp, out, seeds, device, workers, log)
        else:
            progress.executed = work(exp, out, seeds, device, log, tag, parents_first=parents_first)
    progress.seconds = round(time.perf_counter() - t0, 1)
    if report:
        write_report(exp, out, seeds, progress, collect(exp, out, seeds))
    return progress


def finished(exp: Experiment, out: Path, seeds: int) -> list[tuple[RunDecl, int]]:
    return [(run, seed) for run, seed in planned(exp, seeds) if (run_folder(out, run, seed) / RESULT_FILE).is_file()]


def work(
    exp: Experiment,
    out: Path,
    seeds: int,
    device: str | None,
    log: Callable[[str], None] = print,
    tag: str = "",
    poll: float = 0.5,
    parents_first: bool = False,
) -> int:
    """One worker's share of the grid: returns how many runs it executed, once every run is finished.

    It takes the first run in plan order that is not finished, whose ``from`` run is finished, and that no
    other worker has claimed (``claims``); after each run it starts from the top again, so the grid keeps
    its order (seed 0 first). With nothing to take while others still run, it waits for them.
    ``parents_first`` (several workers): runs that others start ``from`` come before the rest, so that the
    long pre-trainings of later seeds start while other workers fine-tune the earlier ones.
    """
    plan = planned(exp, seeds)
    parents = {run.parent for run in exp.runs if run.parent}
    executed = 0
    while True:
        pending = [(i, run, seed) for i, (run, seed) in enumerate(plan, 1) if not _done(out, run, seed)]
        if parents_first:
            pending.sort(key=lambda job: (job[1].name not in parents, job[0]))
        if not pending:
            return executed
        for i, run, seed in pending:
            parent = run_folder(out, exp.run(run.parent), seed) if run.parent else None
            if parent is not None and not (parent / RESULT_FILE).is_file():
                continue  # its pre-training is still running (another worker's) or still to come
            with claim(claim_path(out, run.name, seed if run.seeded else 0)) as mine:
                if not mine or _done(out, run, seed):
                    continue
                log(f"{tag}[{i}/{len(plan)}] {exp.name}: {run.name} seed {seed}")
                _execute(exp, out, run, seed, parent, device, log)
                executed += 1
                break
        else:
            time.sleep(poll)  # every run left is running in another worker or waits for one that is


def _done(out: Path, run: RunDecl, seed: int) -> bool:
    return (run_folder(out, run, seed) / RESULT_FILE).is_file()


def _execute(
    exp: Experiment,
    out: Path,
    run: RunDecl,
    seed: int,
    parent: Path | None,
    device: str | None,
    log: Callable[[str], None],
) -> None:
    folder = run_folder(out, run, seed)
    try:
        if parent is not None and "error" in json.loads((parent / RESULT_FILE).read_text()):
            raise FloatingPointError(f"{run.parent} diverged")
        metrics = execute(run, folder, seed if run.seeded else 0, parent, device)
    except FloatingPointError as e:  # a diverged run (too high a learning rate) is a result, not a crash
        metrics = {"error": str(e)}
        log(f"{exp.name}: {run.name} seed {seed} diverged: {e}")
    write_atomic(folder / RESULT_FILE, lambda f, m=metrics: f.write(json.dumps(m, indent=1).encode()))


def collect(exp: Experiment, out: Path, seeds: int) -> dict[str, list[dict[str, Any]]]:
    """Finished results per run name: a list of metric dicts, one per seed (with ``seed`` added)."""
    results: dict[str, list[dict[str, Any]]] = {run.name: [] for run in exp.runs}
    for run, seed in planned(exp, seeds):
        path = run_folder(out, run, seed) / RESULT_FILE
        if path.is_file():
            results[run.name].append({"seed": seed, **json.loads(path.read_text())})
    return results
