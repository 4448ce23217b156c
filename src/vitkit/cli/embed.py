"""``vitkit embed CKPT DATA -o OUT``: every image's representation (pre-logits), resumably, on one process or
many (``torchrun --nproc_per_node N -m vitkit embed ...``): see ``vitkit.collection``."""

from __future__ import annotations

import argparse

from .backend_arg import add_backend_argument, say
from .types import nonnegative_int, positive_int

HELP = "embed a data set with a checkpoint (pre-logits) into a Parquet folder, .npz or .parquet; torchrun, resumable"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder (ViT or BiT), an .onnx file from `vitkit export --output embedding`, or "
        "an int8 .xml file from `vitkit quantize`",
    )
    p.add_argument("data", help="data spec: folder, manifest, shards, or fashion-mnist:test ...")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="a folder (one Parquet file per part + _manifest.json), or a .npz / .parquet file",
    )
    p.add_argument("--format", choices=["npz", "parquet"], default=None, help="one file of this format")
    p.add_argument("--normalize", action="store_true", help="scale every embedding to unit L2 norm")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per forward pass (default 256)")
    p.add_argument(
        "--part-size",
        "--chunk-size",
        dest="part_size",
        type=positive_int,
        default=4096,
        help="images per part (default 4096; shards: one part each): a rerun redoes only unfinished parts",
    )
    p.add_argument("--workers", type=nonnegative_int, default=2, help="image decoding processes per rank (default 2)")
    p.add_argument("--strict", action="store_true", help="an unreadable image stops the job (default: skipped, listed)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--device", default=None, help="default: this rank's GPU under torchrun, else auto")
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint.identity import checkpoint_identity
    from ..collection.heads import EmbedHead
    from ..collection.job import finish_file, is_file_output, join, rank_device, report_skipped, staging_folder
    from ..collection.parts import input_fingerprint
    from ..collection.run import run_collection
    from ..data import open_dataset
    from ..models.transform import transform_for
    from ..train.distributed import teardown
    from ..use.backend import load_for_inference
    from ..use.predict import model_device

    device = rank_device(args.device)
    d = join(device)
    try:
        model = load_for_inference(
            args.checkpoint, args.backend, str(device), output="embedding", batch_size=args.batch_size, say=say
        )
        data = open_dataset(args.data)
        data.validate()
        transform = transform_for(model)
        job = {**checkpoint_identity(args.checkpoint), "data": args.data, "model": model.config.name or None}
        identity = {**job, "input": input_fingerprint(data), "transform": transform.to_dict()}
        head = EmbedHead(model, args.normalize)
        meta = {**job, "normalized": args.normalize}
        summary = run_collection(
            head,
            data,
            staging_folder(args.out, args.format),
            identity,
            transform,
            d,
            part_size=args.part_size,
            batch_size=args.batch_size,
            num_workers=args.workers,
            strict=args.strict,
            device=model_device(model),
            progress=not args.no_progress,
            extra={"classes": list(data.classes) or None, "meta": meta, "dim": head.dim},
        )
        if not d.is_main:
            return 0
        skipped = report_skipped("embed", summary)
        where = args.out
        if is_file_output(args.out, args.format):
            finish_file(summary, args.out, args.format, {**meta, **({"skipped": skipped} if skipped else {})})
        else:
            where = f"{args.out}/ ({summary.parts} parts)"
        norm = ", unit norm" if args.normalize else ""
        print(f"{where}: {summary.rows} embeddings of dimension {head.dim} (float32{norm})")
        if summary.skipped:
            print(f"{summary.skipped} images skipped (unreadable): listed in {_skipped_where(args, summary)}")
        return 0
    finally:
        teardown()


def _skipped_where(args: argparse.Namespace, summary) -> str:
    from ..collection.job import is_file_output
    from ..collection.store import SKIPPED

    return f"{args.out} (meta 'skipped')" if is_file_output(args.out, args.format) else f"{summary.folder / SKIPPED}"
