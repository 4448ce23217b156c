"""``vitkit quantize CKPT OUT.xml --calibrate DATA``: int8 with NNCF for OpenVINO, its accuracy drop measured."""

from __future__ import annotations

import argparse

from .backend_arg import say
from .types import nonnegative_float, nonnegative_int, positive_int

HELP = "quantise a checkpoint to int8 (NNCF, OpenVINO), refused if held-out top-1 drops by more than --max-drop"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any classifier checkpoint or run folder")
    p.add_argument("out", help="the int8 file to write: OUT.xml (OpenVINO IR; its weights go to OUT.bin)")
    p.add_argument(
        "--calibrate",
        metavar="DATA",
        required=True,
        help="data spec (fashion-mnist:test, a folder...): --samples images calibrate, the rest measure top-1",
    )
    p.add_argument("--samples", type=positive_int, default=300, help="calibration images (default 300)")
    p.add_argument(
        "--heldout",
        type=positive_int,
        default=None,
        help="held-out images for the accuracy check (default: the rest, <= 10000)",
    )
    p.add_argument(
        "--max-drop",
        type=nonnegative_float,
        default=0.5,
        help="largest held-out top-1 drop accepted, in percentage points (default 0.5); over it nothing is written",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the calibration / held-out split")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument(
        "--threads", type=positive_int, default=None, help="OpenVINO inference threads (default: one per core)"
    )


def run(args: argparse.Namespace) -> int:
    from ..int8.quantize import quantize_checkpoint

    result = quantize_checkpoint(
        args.checkpoint,
        args.out,
        args.calibrate,
        samples=args.samples,
        heldout=args.heldout,
        max_drop=args.max_drop,
        seed=args.seed,
        batch_size=args.batch_size,
        threads=args.threads,
        say=say,
    )
    c = result.comparison
    print(f"wrote {result.path} (+ .bin, {result.size_bytes / 2**20:.1f} MiB) in {result.seconds:.0f} s")
    print(f"top-1 float {c.top1_float:.2f}%  int8 {c.top1_int8:.2f}%  drop {c.drop:+.2f} +- {c.drop_stderr:.2f} points")
    return 0
