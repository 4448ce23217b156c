"""The grid's runs and one worker's way through them: where each (run, seed) lives, the plan's order, and
``work``, which runs the unfinished runs it can claim (``claims``) until every run is finished.

A run's metrics go to ``result.json`` in its folder, written atomically when it finishes: a run with that
file is finished. ``runner`` drives one worker in this process; ``workers`` drives several.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..atomic import write_atomic
from .claims import claim, claim_path
from .declaration import Experiment, RunDecl
from .jobs import execute
from .tagged_output import tagged_output

RESULT_FILE = "result.json"


def run_seed(run: RunDecl, seed: int) -> int:
    """The seed ``run`` runs with in the grid's seed ``seed``: an unseeded run has one, 0."""
    return seed if run.seeded else 0


def run_folder(out: Path, run: RunDecl, seed: int) -> Path:
    return out / run.name / f"s{run_seed(run, seed)}"


def planned(exp: Experiment, seeds: int) -> list[tuple[RunDecl, int]]:
    """(run, seed) pairs in execution order; an unseeded run appears once, with seed 0."""
    return [(run, seed) for seed in range(seeds) for run in exp.runs if run.seeded or seed == 0]


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
    A ``tag`` (several workers) starts every line this process prints while it works, followed by the run
    it is on (``tagged``).
    """
    if not tag:
        return _work(exp, out, seeds, device, log, lambda _: None, poll, parents_first)
    with tagged_output(tag) as set_label:
        return _work(exp, out, seeds, device, log, set_label, poll, parents_first)


def _work(
    exp: Experiment,
    out: Path,
    seeds: int,
    device: str | None,
    log: Callable[[str], None],
    set_label: Callable[[str], None],
    poll: float,
    parents_first: bool,
) -> int:
    plan = planned(exp, seeds)
    parents = {run.parent for run in exp.runs if run.parent}
    executed = 0
    while True:
        pending = [(i, run, seed) for i, (run, seed) in enumerate(plan, 1) if not is_done(out, run, seed)]
        if parents_first:
            pending.sort(key=lambda job: (job[1].name not in parents, job[0]))
        if not pending:
            return executed
        for i, run, seed in pending:
            if run.parent and not is_done(out, exp.run(run.parent), seed):
                continue  # its pre-training is still running (another worker's) or still to come
            parent = run_folder(out, exp.run(run.parent), seed) if run.parent else None
            with claim(claim_path(out, run.name, run_seed(run, seed))) as mine:
                if not mine or is_done(out, run, seed):
                    continue
                log(f"[{i}/{len(plan)}] {exp.name}: {run.name} seed {seed}")
                set_label(f"{run.name}/s{run_seed(run, seed)} ")
                try:
                    _execute(exp, out, run, seed, parent, device, log)
                finally:
                    set_label("")
                executed += 1
                break
        else:
            time.sleep(poll)  # every run left is running in another worker or waits for one that is


def is_done(out: Path, run: RunDecl, seed: int) -> bool:
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
        metrics = execute(run, folder, run_seed(run, seed), parent, device)
    except FloatingPointError as e:  # a diverged run (too high a learning rate) is a result, not a crash
        metrics = {"error": str(e)}
        log(f"{exp.name}: {run.name} seed {seed} diverged: {e}")
    write_atomic(folder / RESULT_FILE, lambda f, m=metrics: f.write(json.dumps(m, indent=1).encode()))
