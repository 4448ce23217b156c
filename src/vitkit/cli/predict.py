"""``vitkit predict CKPT IMAGE...``: top-k class names with probabilities."""

from __future__ import annotations

import argparse
import json

from .backend_arg import add_backend_argument, say

HELP = "classify image files with a checkpoint (top-k classes and probabilities)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder, an .onnx file from `vitkit export`, or an int8 .xml file from "
        "`vitkit quantize`",
    )
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("-k", "--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default=None)
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..use.backend import load_for_inference
    from ..use.predict import predict_images

    batch = min(len(args.images), 32)  # predict_images' batch
    model = load_for_inference(args.checkpoint, backend=args.backend, device=args.device, batch_size=batch, say=say)
    results = predict_images(model, args.images, k=args.top_k)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        print(r["image"])
        for t in r["top"]:
            print(f"  {t['prob']:7.4f}  {t['class']}")
    return 0
