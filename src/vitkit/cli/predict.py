"""``vitkit predict CKPT IMAGE|DIR...``: top-k class names with probabilities.

With ``-o OUT`` the images (folders expanded) are a collection job like ``vitkit embed``'s: split over
``torchrun`` ranks, decoded in worker processes, written as Parquet parts resumably (``vitkit.collection``).
"""

from __future__ import annotations

import argparse
import json

from .backend_arg import add_backend_argument, say
from .types import nonnegative_int, positive_int

HELP = "classify image files or folders with a checkpoint (top-k); -o OUT: a Parquet data set, torchrun"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder, an .onnx file from `vitkit export`, or an int8 .xml file from "
        "`vitkit quantize`",
    )
    p.add_argument("images", nargs="+", help="image files or folders (every image below them)")
    p.add_argument("-k", "--top-k", type=positive_int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-o", "--out", default=None, help="write a folder of Parquet parts (or a .parquet file)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--part-size", type=positive_int, default=4096, help="with -o: images per part (default 4096)")
    p.add_argument("--workers", type=nonnegative_int, default=2, help="with -o: image decoding processes per rank")
    p.add_argument("--strict", action="store_true", help="with -o: an unreadable image stops the job")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--device", default=None)
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..data.files import expand_images
    from ..use.backend import load_for_inference
    from ..use.predict import predict_images

    if args.out is not None:
        return _run_collection(args)
    images = expand_images(args.images)
    batch = min(len(images), args.batch_size)
    model = load_for_inference(args.checkpoint, backend=args.backend, device=args.device, batch_size=batch, say=say)
    results = predict_images(model, images, k=args.top_k, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        print(r["image"])
        for t in r["top"]:
            print(f"  {t['prob']:7.4f}  {t['class']}")
    return 0


def _run_collection(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..atomic import write_atomic
    from ..checkpoint.identity import checkpoint_identity
    from ..collection.heads import PredictHead
    from ..collection.job import join, rank_device, report_skipped
    from ..collection.parts import input_fingerprint
    from ..collection.run import run_collection
    from ..collection.store import pyarrow, read_table
    from ..data.files import ImageFiles
    from ..models.transform import transform_for
    from ..train.distributed import teardown
    from ..use.backend import load_for_inference
    from ..use.predict import model_device

    single = args.out.lower().endswith((".parquet", ".pq"))
    device = rank_device(args.device)
    d = join(device)
    try:
        model = load_for_inference(
            args.checkpoint, backend=args.backend, device=str(device), batch_size=args.batch_size, say=say
        )
        data = ImageFiles(args.images)
        transform = transform_for(model)
        job = {**checkpoint_identity(args.checkpoint), "data": list(args.images), "model": model.config.name or None}
        head = PredictHead(model, args.top_k, model.info.classes)
        summary = run_collection(
            head,
            data,
            Path(args.out + ".partial" if single else args.out),
            {**job, "input": input_fingerprint(data), "transform": transform.to_dict()},
            transform,
            d,
            part_size=args.part_size,
            batch_size=args.batch_size,
            num_workers=args.workers,
            strict=args.strict,
            device=model_device(model),
            progress=not args.no_progress,
            extra={"classes": head.classes, "meta": job},
        )
        if not d.is_main:
            return 0
        report_skipped("predict", summary)
        if single:
            import shutil

            table = read_table(summary.folder)
            write_atomic(args.out, lambda f: pyarrow().parquet.write_table(table, f))
            shutil.rmtree(summary.folder)
        print(f"{args.out}: top-{head.k} classes of {summary.rows} images")
        if summary.skipped:
            print(f"{summary.skipped} images skipped (unreadable)")
        return 0
    finally:
        teardown()
