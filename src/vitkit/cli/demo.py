"""``vitkit demo``: pre-train on Fashion-MNIST, fine-tune on MNIST-5k at higher resolution, vs scratch."""

from __future__ import annotations

import argparse

from .types import positive_int

HELP = "the paper's pipeline in miniature on built-in data (about 8 minutes on 2 CPU cores; --full: 30)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", default="runs/demo", help="where the runs, results.json and table.md go (default runs/demo)"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="the longer demo: 6 pre-training epochs, 1,200 MNIST-5k steps (about 30 minutes on 2 CPU cores)",
    )
    p.add_argument(
        "--seeds", type=positive_int, default=2, help="fine-tune and scratch each with seeds 0..N-1 (default 2)"
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="processes sharing the runs (default: 2 one-thread processes on a CPU with 2+ cores)",
    )
    p.add_argument("--device", default=None)
    p.add_argument("--quick", action="store_true", help="a seconds-long pipeline check, not a result")


def run(args: argparse.Namespace) -> int:
    from ..demo import results_table, run_demo

    report = run_demo(
        args.out, full=args.full, quick=args.quick, seeds=args.seeds, workers=args.workers, device=args.device
    )
    print(results_table(report))
    print(f"results: {args.out}/results.json, {args.out}/table.md (the same grid: vitkit reproduce demo)")
    return 0
