"""``vitkit embed CKPT DATA -o emb.npz``: every image's representation (pre-logits) to a file, resumably."""

from __future__ import annotations

import argparse

from .backend_arg import add_backend_argument, say

HELP = "embed a data set with a checkpoint (pre-logits representation) into .npz or .parquet; resumable"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder (ViT or BiT), an .onnx file from `vitkit export --output embedding`, or "
        "an int8 .xml file from `vitkit quantize`",
    )
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
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..data import open_dataset
    from ..use.backend import load_for_inference
    from ..use.embed import checkpoint_identity, embed_to_file

    model = load_for_inference(
        args.checkpoint, args.backend, args.device, output="embedding", batch_size=args.batch_size, say=say
    )
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
