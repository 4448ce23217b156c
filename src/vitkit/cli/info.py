"""``vitkit info CKPT``: the format and the architecture vitkit infers from a checkpoint's tensors."""

from __future__ import annotations

import argparse
import json

HELP = "show a checkpoint's format and inferred config"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any supported checkpoint file or folder")
    p.add_argument("--num-heads", type=int, default=None, help="heads, for timm files of a non-standard width")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import read_checkpoint

    ckpt = read_checkpoint(args.checkpoint, num_heads=args.num_heads)
    params = sum(t.numel() for t in ckpt.state_dict.values())
    info = {
        "path": str(args.checkpoint),
        "format": ckpt.format,
        "params": params,
        "config": ckpt.config.to_dict(),
        "classes": ckpt.classes,
        **({"extra": ckpt.extra} if ckpt.extra else {}),
    }
    if args.json:
        print(json.dumps(info, indent=1, default=list))
        return 0
    print(f"{info['path']}: {ckpt.format} checkpoint, {params:,} parameters")
    for key, value in info["config"].items():
        print(f"  {key:<24} {value}")
    if ckpt.classes:
        shown = ", ".join(ckpt.classes[:10]) + (" ..." if len(ckpt.classes) > 10 else "")
        print(f"  {'classes':<24} {len(ckpt.classes)}: {shown}")
    return 0
