"""``vitkit export CKPT OUT.onnx``: an ONNX graph with dynamic batch (and image size), checked in onnxruntime."""

from __future__ import annotations

import argparse

from .types import positive_float, positive_int

HELP = "export a checkpoint to ONNX (dynamic batch and image size) and verify it with onnxruntime"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any checkpoint or run folder")
    p.add_argument("out", help="the .onnx file to write")
    p.add_argument(
        "--output",
        choices=["logits", "embedding"],
        default="logits",
        help="what the graph returns: class logits, or the image representation y",
    )
    p.add_argument(
        "--image-size", type=positive_int, default=None, help="resize position embeddings to this resolution first"
    )
    p.add_argument("--static-batch", action="store_true", help="a graph for batch size 1 only")
    p.add_argument("--static-size", action="store_true", help="accept the model's image size only")
    p.add_argument("--opset", type=positive_int, default=None, help="ONNX opset (default: the exporter's)")
    p.add_argument("--atol", type=positive_float, default=1e-4, help="largest onnxruntime-vs-torch difference accepted")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load
    from ..onnx.export import export_onnx, verify_onnx
    from ..onnx.runner import onnxruntime_available

    model = load(args.checkpoint, image_size=args.image_size)
    dynamic_size = False if args.static_size else None
    path = export_onnx(
        model,
        args.out,
        dynamic_batch=not args.static_batch,
        dynamic_size=dynamic_size,
        output=args.output,
        opset=args.opset,
    )
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    if args.no_verify:
        return 0
    if not onnxruntime_available():
        print("not verified: onnxruntime is not installed (pip install 'vitkit[onnx]')")
        return 0
    batches = (1,) if args.static_batch else (1, 3)
    diffs = verify_onnx(model, path, batch_sizes=batches, atol=args.atol)
    print("verified against torch (max |difference|): " + ", ".join(f"{k}: {v:.2e}" for k, v in diffs.items()))
    return 0
