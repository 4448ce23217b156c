"""``vitkit finetune CKPT``: new zero-initialised head, position embeddings resized to --image-size."""

from __future__ import annotations

import argparse
import json

from .train import add_common, build_spec

HELP = "fine-tune a checkpoint on new data (recipe 'finetune': SGD, cosine, clipping, new zero head)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any checkpoint vitkit.load reads, or a run folder")
    add_common(p, "finetune")


def run(args: argparse.Namespace) -> int:
    from ..train import train
    from ..train.distributed import teardown

    try:
        summary = train(build_spec(args, model=None, init=args.checkpoint), resume=args.resume)
    finally:
        teardown()  # the process group torchrun's processes joined: destroyed before they exit
    print(json.dumps(summary))
    return 0
