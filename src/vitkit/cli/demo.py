"""``vitkit demo``: pre-train on Fashion-MNIST, fine-tune on MNIST-5k at higher resolution, vs scratch."""

from __future__ import annotations

import argparse

HELP = "the paper's pipeline in miniature on built-in data (about 31 minutes on 2 CPU cores; --no-mpp: 18)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="where the three runs and results.json go (default runs/demo)")
    p.add_argument("--pretrain-epochs", type=float, default=None, help="Fashion-MNIST epochs (default 6)")
    p.add_argument(
        "--finetune-steps", type=int, default=None, help="MNIST-5k steps for fine-tuning and scratch (default 1200)"
    )
    p.add_argument("--seed", type=int, default=0, help="pre-training's seed and the first fine-tune/scratch seed")
    p.add_argument(
        "--seeds", type=int, default=None, help="fine-tune and scratch each with this many seeds (default 2)"
    )
    p.add_argument(
        "--no-mpp",
        dest="mpp",
        action="store_false",
        help="skip the masked-patch pre-training and its fine-tuning (about 40%% less time)",
    )
    p.add_argument("--finetune-size", type=int, default=None, help="MNIST-5k image size in pixels (default 40)")
    p.add_argument("--device", default=None)
    p.add_argument("--quick", action="store_true", help="a seconds-long pipeline check, not a result")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..demo import DemoConfig, results_table, run_demo

    cfg = DemoConfig.quick(args.out) if args.quick else DemoConfig(out=args.out)
    changes = {
        k: v
        for k, v in {
            "pretrain_epochs": args.pretrain_epochs,
            "finetune_steps": args.finetune_steps,
            "seed": args.seed,
            "seeds": args.seeds,
            "device": args.device,
            "finetune_size": args.finetune_size,
            "mpp": None if args.mpp else False,
        }.items()
        if v is not None
    }
    results = run_demo(dataclasses.replace(cfg, **changes))
    print(results_table(results))
    print(f"results: {args.out}/results.json")
    return 0
