"""``vitkit models``: the registered variants with parameters and multiply-adds at their resolution."""

from __future__ import annotations

import argparse
import json

from .types import positive_int

HELP = "list the model variants (name, parameters, GMACs at the resolution)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--image-size",
        type=positive_int,
        default=None,
        help="resolution to count GMACs at (default: each model's, 224)",
    )
    p.add_argument(
        "--num-classes", type=positive_int, default=1000, help="head size for the parameter count (default 1000)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from ..models.flops import count_macs, count_params
    from ..models.variants import list_models, model_config

    rows = []
    for name in list_models():
        overrides = {"num_classes": args.num_classes}
        if args.image_size:
            overrides["image_size"] = args.image_size
        cfg = model_config(name, **overrides)
        rows.append(
            {
                "name": name,
                "params": count_params(cfg),
                "gmacs": round(count_macs(cfg) / 1e9, 2),
                "image_size": cfg.image_size[0],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'model':<14} {'params':>13} {'GMACs':>8} {'res':>5}")
    for r in rows:
        print(f"{r['name']:<14} {r['params']:>13,} {r['gmacs']:>8.2f} {r['image_size']:>5}")
    return 0
