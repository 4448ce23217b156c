"""``vitkit reproduce NAME``: one of the paper's findings in miniature, over seeds, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from .types import positive_int

HELP = "reproduce a finding of the paper in miniature (a grid of runs over seeds): results.json, table.md, PNGs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a built-in experiment (see --list) or a path to an experiment .toml")
    p.add_argument("--list", action="store_true", help="list the built-in experiments and exit")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 of every seeded run (default 3)")
    p.add_argument(
        "--budget",
        default="small",
        choices=["small", "full"],
        help="small: about 15 min per experiment on 2 CPU cores; full: what docs/reproduction.md shows",
    )
    p.add_argument("--out", default=None, help="output folder (default runs/reproduce/NAME)")
    p.add_argument("--report", action="store_true", help="run nothing: write the report of the runs finished so far")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="run the grid in N processes (each cores/N threads); under torchrun every rank is one worker",
    )
    p.add_argument("--device", default=None)


def run(args: argparse.Namespace) -> int:
    from ..reproduce import ExperimentError, builtin_names, load_experiment, run_experiment
    from ..reproduce.workers import as_grid_worker, torchrun_rank

    if args.list:
        print(f"{'name':<14} {'paper':<22} {'runs':>4} {'steps/seed':>10}  ({args.budget} budget)")
        for name in builtin_names():
            exp = load_experiment(name, args.budget)
            steps = exp.training_steps()
            print(f"{name:<14} {exp.paper:<22} {len(exp.runs):>4} {steps if steps else '?':>10}  {exp.title}")
        return 0
    if not args.name:
        raise ExperimentError("reproduce: give an experiment name (see vitkit reproduce --list)")
    if args.seeds < 1:
        raise ExperimentError(f"--seeds: expected a positive int, got {args.seeds}")
    if args.workers < 1:
        raise ExperimentError(f"--workers: expected a positive int, got {args.workers}")
    rank = torchrun_rank()
    if rank is not None and args.workers > 1:
        raise ExperimentError("--workers: under torchrun every rank is one worker (use --nproc_per_node)")
    exp = load_experiment(args.name, args.budget)
    out = args.out or f"runs/reproduce/{exp.name}"
    if rank is not None:
        as_grid_worker()  # the ranks share the grid through its claims; their trainings are one-process runs
    progress = run_experiment(
        exp,
        out,
        args.seeds,
        args.device,
        report_only=args.report,
        workers=args.workers,
        tag=f"rank {rank[0]} " if rank else "",
        report=rank is None or rank[0] == 0,
        parents_first=rank is not None,
    )
    if rank is not None and rank[0] != 0:
        print(f"{exp.name}: rank {rank[0]} executed {progress.executed} run(s); rank 0 writes the report")
        return 0
    print(
        f"{exp.name}: {progress.executed} run(s) executed, {progress.skipped} already finished, "
        f"{progress.seconds:.0f} s; report in {out}/table.md"
    )
    print(Path(out, "table.md").read_text())
    return 0
