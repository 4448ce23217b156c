"""``vitkit eval CKPT --data SPEC``: top-1/top-5, per-class accuracy and the confusion matrix.

Under ``torchrun`` each rank evaluates its own disjoint share (``make_loader``'s eval split: every image
exactly once; shards whole), the counts are all-reduced and rank 0 prints once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .backend_arg import add_backend_argument, say
from .types import nonnegative_int, positive_int

HELP = "evaluate a checkpoint on a data set (top-1/5, per class, confusion matrix); torchrun splits the data"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder, an .onnx file from `vitkit export`, or an int8 .xml file from "
        "`vitkit quantize`",
    )
    p.add_argument("--data", required=True, help="data spec, e.g. fashion-mnist:test or a folder")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--workers", type=nonnegative_int, default=0, help="image decoding processes per rank")
    p.add_argument(
        "--strict", action="store_true", help="an unreadable image stops the run (default: skipped, counted)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", dest="json_out", default=None, help="also write the result as JSON to this path")
    p.add_argument("--device", default=None)
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..collection.job import join, rank_device
    from ..collection.progress import Progress
    from ..data import DataError, make_loader, open_dataset
    from ..models.transform import transform_for
    from ..train.distributed import teardown
    from ..use.backend import load_for_inference
    from ..use.evaluate import all_reduce_result, all_reduce_sum, evaluate
    from ..use.predict import model_device

    device = rank_device(args.device)
    d = join(device)
    try:
        model = load_for_inference(args.checkpoint, args.backend, str(device), batch_size=args.batch_size, say=say)
        data = open_dataset(args.data, skip_bad=not args.strict)
        data.validate()
        classes = model.info.classes or data.classes
        if model.config.num_classes != len(data.classes):
            raise DataError(
                f"{args.data}: {len(data.classes)} classes, the checkpoint predicts {model.config.num_classes}"
            )
        if model.info.classes and list(model.info.classes) != list(data.classes):
            theirs = model.info.classes[:3]
            raise DataError(
                f"{args.data}: class names differ from the checkpoint's ({data.classes[:3]}... vs {theirs}...)"
            )
        loader = make_loader(
            data,
            transform_for(model),
            args.batch_size,
            train=False,
            num_workers=args.workers,
            rank=d.rank,
            world_size=d.world_size,
        )
        total = sum(len(b) for b in getattr(loader, "batches", [])) or None  # unknown for shards
        bar = Progress("eval", total, enabled=d.is_main and not args.no_progress, world_size=d.world_size)

        def batches():
            for images, labels in loader:
                bar.update(len(labels))
                yield images, labels

        result = all_reduce_result(evaluate(model, batches(), model.config.num_classes, model_device(model)))
        bar.close()
        skipped = int(all_reduce_sum(loader.skipped))
        if d.is_main:
            print(result.table(classes))
            if skipped:
                print(f"{skipped} images skipped (unreadable)")
            if args.json_out:
                Path(args.json_out).write_text(json.dumps({**result.to_dict(classes), "skipped": skipped}, indent=1))
        return 0
    finally:
        teardown()
