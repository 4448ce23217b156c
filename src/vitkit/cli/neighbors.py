"""``vitkit neighbors emb.npz QUERY... -k 10``: nearest images by cosine similarity."""

from __future__ import annotations

import argparse
import functools
import json
import os

from .types import positive_int

HELP = "nearest neighbours by cosine similarity in an embeddings file (query: row, path or image)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "embeddings", help="a file or folder written by `vitkit embed`, or an index folder from `vitkit index`"
    )
    p.add_argument(
        "queries",
        nargs="+",
        metavar="QUERY",
        help="a row number of the file, a path listed in it, or an image file (embedded with --checkpoint)",
    )
    p.add_argument("-k", type=positive_int, default=10, help="neighbours per query (default 10)")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="embeds image-file queries (default: the checkpoint the file was made with, if it exists)",
    )
    p.add_argument(
        "--index",
        choices=["exact", "faiss"],
        default="exact",
        help="exact: brute-force matrix product (default); faiss: IndexFlatIP, IVF for large files",
    )
    p.add_argument(
        "--nprobe",
        type=positive_int,
        default=None,
        help="IVF: cells searched per query (default 16; an index: its own)",
    )
    p.add_argument("--include-self", action="store_true", help="keep a row query in its own results")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default=None)


def run(args: argparse.Namespace) -> int:
    from ..collection.read import load_embeddings
    from ..use.embed import embed_image_files
    from ..use.index import PersistentIndex, is_index
    from ..use.neighbors import format_table, neighbors, resolve_queries

    if is_index(args.embeddings):  # loaded as built, with the parameters that met its recall target
        emb = PersistentIndex(args.embeddings, {"nprobe": args.nprobe} if args.nprobe else None)
        source_meta = emb.meta.get("embeddings_meta") or {}
    else:
        emb = load_embeddings(args.embeddings)
        source_meta = emb.meta
    checkpoint = args.checkpoint or source_meta.get("checkpoint")
    embedder = None  # the checkpoint is loaded only if a query is an image file
    from ..hub import is_name

    if checkpoint and (args.checkpoint or os.path.exists(checkpoint) or is_name(checkpoint)):
        embedder = functools.partial(embed_image_files, checkpoint, args.device)
    queries = resolve_queries(emb, args.queries, embedder)
    results = neighbors(
        emb,
        queries,
        args.k,
        backend=args.index,
        include_self=args.include_self,
        **({"nprobe": args.nprobe or 16} if args.index == "faiss" else {}),
    )
    print(json.dumps(results, indent=1) if args.json else format_table(results))
    return 0
