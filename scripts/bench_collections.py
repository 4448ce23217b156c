"""Benchmarks of issue 20: collection embedding throughput and persistent-index cost. Prints tables.

    python scripts/bench_collections.py embed --images 20000          # 224 px JPEGs, ViT-Ti/16 and the demo model
    python scripts/bench_collections.py index --vectors 1000000       # random 384-d, every index kind
    python scripts/bench_collections.py index --clusters 1000         # the same, as a mixture of 1000 Gaussians
    python scripts/bench_collections.py smoke                         # both, tiny (a minute)

embed: ``vitkit embed`` of N decoded-from-JPEG 224 px images (the demo model at its MNIST-5k size, 56 px)
as 1 process x 2 threads (``--workers 1``) and 2 processes x 1 thread (torchrun, ``--workers 1`` each),
against the bare forward rate of the model on ready tensors (1 process x 2 threads). Wall time includes
start-up (model load, process group), so it is what a user waits for.

index: ``vitkit.use.index.build_index`` per kind in a child process (its peak RSS is the kind's): build
time, peak memory, single-query latency p50/p99 at k=10 over the held-out queries, recall@10, and the
exact (numpy) search time per query.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def _table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells)


# ------------------------------------------------------------------------------------------ embed


def _make_images(folder: Path, n: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, size, size, 3), dtype=np.uint8)  # 64 distinct pictures, re-encoded
    for i in range(n):
        d = folder / f"c{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(base[i % 64]).save(d / f"{i:06d}.jpg", quality=90)


def _models(folder: Path) -> dict[str, tuple[Path, int]]:
    import torch

    import vitkit
    from vitkit.demo import demo_experiment, demo_model

    demo_size = demo_experiment().run("scratch").get("image_size")  # the demo's MNIST-5k resolution
    out = {}
    torch.manual_seed(0)
    for name, kwargs, size in (
        ("ViT-Ti/16", {"num_classes": 10}, 224),
        ("demo", {**demo_model(), "image_size": demo_size, "num_classes": 10}, demo_size),
    ):
        model = vitkit.create_model("ViT-Ti/16", **kwargs)
        path = folder / f"{name.replace('/', '-')}.safetensors"
        vitkit.save(model, path, classes=[str(i) for i in range(10)])
        out[name] = (path, size)
    return out


def _bare_rate(path: Path, size: int, batch: int, seconds: float, backend: str = "torch") -> float:
    """``embed`` on random tensors in a fresh process, 2 threads, on ``backend`` (as ``--backend`` names it)."""
    code = (
        "import sys,time,torch; torch.set_num_threads(2)\n"
        "from vitkit.use.backend import load_for_inference\n"
        f"m=load_for_inference(sys.argv[1], {backend!r}, 'cpu', output='embedding')\n"
        f"x=torch.randn({batch},3,{size},{size})\n"
        "with torch.inference_mode():\n m.embed(x); m.embed(x); n=0; t=time.perf_counter()\n"
        f" while time.perf_counter()-t<{seconds}: m.embed(x); n+={batch}\n"
        "print(n/(time.perf_counter()-t))"
    )
    env = {**ENV, "OMP_NUM_THREADS": "2"}
    return float(
        subprocess.run(
            [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, check=True
        ).stdout
    )


def _embed_run(path: Path, images: Path, out: Path, procs: int, batch: int, backend: str = "auto") -> tuple[float, str]:
    """Wall seconds of ``vitkit embed``, and the backend it ran (``auto``'s choice, from its line on stderr)."""
    args = [
        "-m",
        "vitkit",
        "embed",
        str(path),
        str(images),
        "-o",
        str(out),
        "--workers",
        "1",
        "--batch-size",
        str(batch),
        "--no-progress",
        "--backend",
        backend,
    ]
    if procs == 1:
        cmd, env = [sys.executable, *args], {**ENV, "OMP_NUM_THREADS": "2"}
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs), *args]
        env = {**ENV, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    chosen = [line.rsplit("-> ", 1)[1].split()[0] for line in done.stderr.splitlines() if line.startswith("auto:")]
    return wall, chosen[0] if chosen else backend


def bench_embed(
    n: int,
    batch: int,
    bare_s: float,
    backend: str = "auto",
    models: str = "ViT-Ti/16,demo",
    procs_list: tuple[int, ...] = (1, 2),
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        _make_images(tmp / "images", n, 224)
        print(f"{n} JPEGs of 224 px written in {time.perf_counter() - t:.1f} s", flush=True)
        rows = []
        for name, (path, size) in _models(tmp).items():
            if name not in models.split(","):
                continue
            bare = {b: _bare_rate(path, size, batch, bare_s, b) for b in ("torch", "openvino")}
            for procs in procs_list:
                out = tmp / f"out-{name.replace('/', '-')}-{procs}"
                wall, ran = _embed_run(path, tmp / "images", out, procs, batch, backend)
                rate = n / wall
                same = bare.get(ran)
                rows.append(
                    [
                        name,
                        size,
                        f"{procs} x {2 // procs}",
                        round(bare["torch"], 1),
                        round(bare["openvino"], 1),
                        ran,
                        round(wall, 1),
                        round(rate, 1),
                        round(rate / same, 2) if same else "-",
                    ]
                )
                print(rows[-1], flush=True)
    print()
    headers = ["model", "px", "procs x threads", "bare torch", "bare openvino", "ran", "wall s", "img/s", "/ bare same"]
    print(_table(headers, rows))


# ------------------------------------------------------------------------------------------ index


def _vectors(n: int, d: int, clusters: int) -> np.ndarray:
    """``n`` random ``d``-d vectors: plain Gaussian (``clusters`` = 0: no structure, the hardest case for an
    index), or a mixture of ``clusters`` Gaussians, each row a random centre plus noise of the same scale as
    the spread between centres (closer to real embeddings, which cluster by content)."""
    rng = np.random.default_rng(0)
    if not clusters:
        return rng.standard_normal((n, d), dtype=np.float32)
    centres = rng.standard_normal((clusters, d), dtype=np.float32)
    x = rng.standard_normal((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: no second n x d temporary
        part = slice(start, min(n, start + 100_000))
        x[part] += centres[rng.integers(0, clusters, part.stop - part.start)]
    return x


def _index_one(kind: str, n: int, d: int, queries: int, clusters: int = 0) -> dict:
    from vitkit.use.embeddings_file import Embeddings
    from vitkit.use.index import PersistentIndex, build_index

    x = _vectors(n, d, clusters)
    emb = Embeddings(x, [f"r{i}" for i in range(n)])
    del x
    with tempfile.TemporaryDirectory() as tmp:
        report = build_index(emb, Path(tmp) / "ix", kind, queries=queries)
        meta = report.meta
        t = time.perf_counter()
        index = PersistentIndex(Path(tmp) / "ix")  # what `vitkit neighbors` and `serve --neighbors` do at start-up
        load_s = time.perf_counter() - t
        q = emb.embeddings[np.random.default_rng(1).choice(n, queries, replace=False)]
        lat = []
        for row in q:
            t = time.perf_counter()
            index.search(row[None], 10)
            lat.append(time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "kind": kind,
        "params": meta["params"],
        "build_s": meta["build_seconds"],
        "load_s": load_s,
        "peak_rss_mb": peak_mb,
        "p50_ms": 1000 * float(np.percentile(lat, 50)),
        "p99_ms": 1000 * float(np.percentile(lat, 99)),
        "recall_at_10": meta["recall_at_10"],
        "exact_ms_per_query": 1000 * meta["query_seconds"]["exact"] / meta["recall_queries"],
    }


def bench_index(n: int, d: int, kinds: list[str], queries: int, clusters: int = 0) -> None:
    rows = []
    for kind in kinds:
        cmd = [sys.executable, __file__, "index-one", kind, str(n), str(d), str(queries), str(clusters)]
        r = json.loads(
            subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        )
        params = ",".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        rows.append(
            [
                kind,
                params,
                round(r["build_s"], 1),
                round(r.get("load_s", float("nan")), 2),
                round(r["peak_rss_mb"]),
                round(r["p50_ms"], 3),
                round(r["p99_ms"], 3),
                round(r["recall_at_10"], 4),
                round(r["exact_ms_per_query"], 2),
            ]
        )
        print(rows[-1], flush=True)
    print()
    what = f"a mixture of {clusters} Gaussians" if clusters else "plain Gaussian"
    print(f"{n} random {d}-d vectors ({what}), {queries} held-out queries, k=10")
    print(
        _table(
            ["kind", "params", "build s", "load s", "peak RSS MB", "p50 ms", "p99 ms", "recall@10", "exact ms/query"],
            rows,
        )
    )


def main() -> None:
    from vitkit.cli.types import nonnegative_int, positive_float, positive_int, positive_ints

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    e = sub.add_parser("embed")
    e.add_argument("--images", type=positive_int, default=20000)
    e.add_argument("--batch-size", type=positive_int, default=64)
    e.add_argument("--bare-seconds", type=positive_float, default=20.0)
    e.add_argument("--backend", default="auto", help="vitkit embed --backend (the bare rate is eager torch)")
    e.add_argument("--models", default="ViT-Ti/16,demo")
    e.add_argument("--procs", type=positive_ints, default=[1, 2], help="process counts to run (threads: 2 / procs)")
    i = sub.add_parser("index")
    i.add_argument("--vectors", type=positive_int, default=1_000_000)
    i.add_argument("--dim", type=positive_int, default=384)
    i.add_argument("--kinds", default="flat,ivf,hnsw,ivfpq")
    i.add_argument("--queries", type=positive_int, default=1000)
    i.add_argument(
        "--clusters", type=nonnegative_int, default=0, help="0: plain Gaussian vectors; K: a mixture of K Gaussians"
    )
    one = sub.add_parser("index-one")
    for name in ("kind", "n", "d", "queries", "clusters"):
        one.add_argument(name)
    sub.add_parser("smoke")
    args = p.parse_args()
    if args.what == "embed":
        bench_embed(args.images, args.batch_size, args.bare_seconds, args.backend, args.models, tuple(args.procs))
    elif args.what == "index":
        bench_index(args.vectors, args.dim, args.kinds.split(","), args.queries, args.clusters)
    elif args.what == "index-one":
        print(json.dumps(_index_one(args.kind, int(args.n), int(args.d), int(args.queries), int(args.clusters))))
    else:
        bench_embed(40, 16, 1.0)
        bench_index(20000, 384, ["flat", "ivf", "hnsw", "ivfpq"], 100)


if __name__ == "__main__":
    main()
