"""``vitkit embed CKPT DATA -o emb.npz``: every image's representation (pre-logits) to a file, resumably."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "embed a data set with a checkpoint (pre-logits representation) into .npz or .parquet; resumable"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any checkpoint or run folder (ViT or BiT)")
    p.add_argument("data", help="data spec: folder, manifest, shards, or fashion-mnist:test ...")
    p.add_argument("-o", "--out", required=True, help="output file (.npz, or .parquet)")
    p.add_argument("--format", choices=["npz", "parquet"], default=None, help="default: from the output's suffix")
    p.add_argument("--normalize", action="store_true", help="scale every embedding to unit L2 norm")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--chunk-size",
        type=int,
        default=4096,
        help="images per chunk kept in OUT.partial/ until done: a rerun skips finished chunks",
    )
    p.add_argument("--workers", type=int, default=0, help="image decoding processes")
    p.add_argument("--device", default=None)
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnxruntime"],
        default="auto",
        help="auto: onnxruntime for .onnx files (vitkit export --output embedding), torch otherwise",
    )


def checkpoint_identity(path: str) -> dict[str, object]:
    """The checkpoint as the resume check sees it: its absolute path and the weights file's mtime."""
    from ..checkpoint.load import RUN_DIR_WEIGHTS

    p = Path(path)
    weights = next((p / n for n in RUN_DIR_WEIGHTS if (p / n).is_file()), p / "config.json") if p.is_dir() else p
    from ..hub import is_name

    where = path if is_name(path) else os.path.abspath(path)  # a checkpoint name stays a name (cached file)
    return {"checkpoint": where, "checkpoint_mtime_ns": weights.stat().st_mtime_ns if weights.exists() else None}


def run(args: argparse.Namespace) -> int:
    from ..data import open_dataset
    from ..embed import embed_to_file
    from ..predict import load_for_inference

    model = load_for_inference(args.checkpoint, backend=args.backend, device=args.device, output="embedding")
    data = open_dataset(args.data)
    data.validate()
    job = {**checkpoint_identity(args.checkpoint), "data": args.data, "model": model.config.name or None}
    result = embed_to_file(
        model,
        data,
        args.out,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        normalize=args.normalize,
        format=args.format,
        num_workers=args.workers,
        job=job,
    )
    norm = ", unit norm" if args.normalize else ""
    print(f"{args.out}: {len(result)} embeddings of dimension {result.dim} (float32{norm})")
    return 0
