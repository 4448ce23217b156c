"""``vitkit index EMB OUT [--kind flat|ivf|hnsw|ivfpq]``: a FAISS index built once, stored with its rows and
its measured recall@10 (``vitkit.use.index``); ``vitkit neighbors OUT`` and ``serve --neighbors OUT`` load it."""

from __future__ import annotations

import argparse

from .types import fraction, nonnegative_int, positive_int

HELP = "build a persistent nearest-neighbour index (FAISS) of an embeddings file or folder, with its recall@10"
KINDS = ("flat", "ivf", "hnsw", "ivfpq")  # vitkit.use.index.KINDS (not imported: building the parser imports no torch)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("embeddings", help="a file or folder written by `vitkit embed`")
    p.add_argument("out", help="the index folder to write")
    p.add_argument("--kind", choices=KINDS, default="ivf", help="flat: exact; ivf (default), hnsw, ivfpq: approximate")
    p.add_argument("--nlist", type=positive_int, default=None, help="ivf/ivfpq cells (default 4*sqrt(N), at most N/39)")
    p.add_argument("--queries", type=positive_int, default=1000, help="held-out queries for recall@10 (default 1000)")
    p.add_argument(
        "--target-recall",
        type=fraction,
        default=0.95,
        help="the search parameter (nprobe, efSearch) is the smallest reaching this recall@10 (default 0.95)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="training sample and query draw")


def run(args: argparse.Namespace) -> int:
    from ..collection.read import load_embeddings
    from ..errors import ConfigError
    from ..use.index import build_index

    if args.queries < 1 or not 0 < args.target_recall <= 1:
        raise ConfigError("--queries: expected >= 1 and --target-recall in (0, 1]")
    emb = load_embeddings(args.embeddings)
    report = build_index(
        emb,
        args.out,
        args.kind,
        nlist=args.nlist,
        queries=args.queries,
        target_recall=args.target_recall,
        seed=args.seed,
        source=str(args.embeddings),
    )
    m = report.meta
    params = ", ".join(f"{k} {v}" for k, v in m["params"].items()) or "exact"
    print(
        f"{args.out}: {m['kind']} index of {m['rows']} rows x {m['dim']} ({params}); recall@{m['recall_k']} "
        f"{m['recall_at_10']:.4f} on {m['recall_queries']} held-out queries; built in {m['build_seconds']:.1f} s"
    )
    if not m["target_met"]:
        print(
            f"warning: recall below the target {args.target_recall} even at the widest search; try --kind flat or ivf"
        )
    return 0
