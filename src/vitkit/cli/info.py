"""``vitkit info CKPT``: the format and the architecture vitkit infers from a checkpoint's tensors."""

from __future__ import annotations

import argparse
import json

from .types import positive_int

HELP = "show a checkpoint's format and inferred config"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any supported checkpoint file or folder")
    p.add_argument("--num-heads", type=positive_int, default=None, help="heads, for timm files of a non-standard width")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import read_checkpoint
    from ..models.head import head_state_of

    ckpt = read_checkpoint(args.checkpoint, num_heads=args.num_heads)
    params = sum(t.numel() for t in ckpt.state_dict.values())
    head = [ckpt.state_dict[k] for k in ("head.weight", "head.bias") if k in ckpt.state_dict]
    info = {
        "path": str(args.checkpoint),
        "format": ckpt.format,
        "params": params,
        "head": head_state_of(ckpt.config, head),  # valid | zeroed | absent: a classifier, or a feature extractor
        "config": ckpt.config.to_dict(),
        "classes": ckpt.classes,
        **({"extra": ckpt.extra} if ckpt.extra else {}),
    }
    if args.json:
        print(json.dumps(info, indent=1, default=list))
        return 0
    use = "a classifier" if info["head"] == "valid" else f"a feature extractor (head {info['head']})"
    released = (ckpt.extra.get("hub") or {}).get("head")
    if released == "zeroed":
        use += "; the release's head was zeroed by its authors"
    print(f"{info['path']}: {ckpt.format} checkpoint, {params:,} parameters, {use}")
    for key, value in info["config"].items():
        print(f"  {key:<24} {value}")
    if ckpt.classes:
        shown = ", ".join(ckpt.classes[:10]) + (" ..." if len(ckpt.classes) > 10 else "")
        print(f"  {'classes':<24} {len(ckpt.classes)}: {shown}")
    return 0
