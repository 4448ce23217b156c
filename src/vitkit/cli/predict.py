"""``vitkit predict CKPT IMAGE...``: top-k class names with probabilities."""

from __future__ import annotations

import argparse
import json

HELP = "classify image files with a checkpoint (top-k classes and probabilities)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any checkpoint or run folder, or an .onnx file from `vitkit export`")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("-k", "--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default=None)
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnxruntime"],
        default="auto",
        help="auto: onnxruntime for .onnx files, torch otherwise; onnxruntime on a checkpoint exports it first",
    )


def run(args: argparse.Namespace) -> int:
    from ..use.backend import load_for_inference
    from ..use.predict import predict_images

    model = load_for_inference(args.checkpoint, backend=args.backend, device=args.device)
    results = predict_images(model, args.images, k=args.top_k)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        print(r["image"])
        for t in r["top"]:
            print(f"  {t['prob']:7.4f}  {t['class']}")
    return 0
