"""``vitkit eval CKPT --data SPEC``: top-1/top-5, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .backend_arg import add_backend_argument, say

HELP = "evaluate a checkpoint on a data set (top-1/5, per class, confusion matrix)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder, an .onnx file from `vitkit export`, or an int8 .xml file from "
        "`vitkit quantize`",
    )
    p.add_argument("--data", required=True, help="data spec, e.g. fashion-mnist:test or a folder")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json", dest="json_out", default=None, help="also write the result as JSON to this path")
    p.add_argument("--device", default=None)
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..data import DataError, make_loader, open_dataset
    from ..use.backend import load_for_inference
    from ..use.evaluate import evaluate
    from ..use.predict import model_device, transform_for

    model = load_for_inference(args.checkpoint, args.backend, args.device, batch_size=args.batch_size, say=say)
    device = model_device(model)
    data = open_dataset(args.data)
    data.validate()
    classes = model.info.classes or data.classes
    if model.config.num_classes != len(data.classes):
        raise DataError(f"{args.data}: {len(data.classes)} classes, the checkpoint predicts {model.config.num_classes}")
    if model.info.classes and list(model.info.classes) != list(data.classes):
        theirs = model.info.classes[:3]
        raise DataError(f"{args.data}: class names differ from the checkpoint's ({data.classes[:3]}... vs {theirs}...)")
    loader = make_loader(data, transform_for(model), args.batch_size, train=False)
    result = evaluate(model, loader, model.config.num_classes, device)
    print(result.table(classes))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result.to_dict(classes), indent=1))
    return 0
