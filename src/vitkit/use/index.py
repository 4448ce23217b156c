"""A persistent nearest-neighbour index over an embeddings data set: built once, loaded by ``vitkit neighbors``
and ``vitkit serve --neighbors`` instead of rebuilding.

Kinds (cosine similarity: unit rows, inner product; FAISS):

- ``flat``: exact (``IndexFlatIP``).
- ``ivf``: ``IVFk,Flat``, ``k = 4·√N`` cells (FAISS's guideline for under a million rows: 4√N to 16√N),
  k-means trained on a sample of ``50·k`` rows; ``nprobe`` chosen at build time.
- ``hnsw``: ``HNSW32`` graph; ``efSearch`` chosen at build time.
- ``ivfpq``: ``IVFk,PQ(d/4)x8`` codes scanned, candidates re-ranked exactly (``RFlat``: the raw vectors are
  kept, so this saves scan time, not memory); ``nprobe`` and the re-rank factor chosen at build time.

The search parameter is the smallest that reaches ``target_recall`` (0.95) recall@10 against exact search
on a held-out query set: ``queries`` rows drawn at random, each searched for its 10 nearest *other* rows
(itself left out of both answers). The chosen parameters and the measured recall go into ``index.json``.

Folder ``OUT/``: ``index.faiss`` (FAISS's binary format: parsed, never executed), ``rows.parquet`` (row →
path, label), ``index.json`` (kind, parameters, recall, the SHA-256 of ``index.faiss``, the embeddings'
meta). Row id = the row's position in the embeddings data set.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_atomic
from ..data import DataError
from ..errors import ConfigError
from .embeddings_file import Embeddings, _pyarrow, l2_normalize
from .neighbors import _faiss, search

KINDS = ("flat", "ivf", "hnsw", "ivfpq")
INDEX_FILE, ROWS_FILE, META_FILE = "index.faiss", "rows.parquet", "index.json"
RECALL_K = 10
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
EF_SEARCH = (16, 32, 64, 128, 256, 512, 1024, 2048)
K_FACTORS = (4, 16)
PQ_MIN_ROWS = 39 * 256  # k-means of 256 centroids per sub-quantizer needs this many training rows


def is_index(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder ``vitkit index`` wrote."""
    return (Path(path) / META_FILE).is_file()


def default_nlist(n: int) -> int:
    """``4·√N`` cells, at most ``N / 39`` (k-means wants 39 training rows per centroid), at least 1."""
    return max(1, min(int(round(4 * math.sqrt(n))), n // 39))


def _factory(kind: str, d: int, n: int, nlist: int) -> str:
    if kind == "flat":
        return "Flat"
    if kind == "ivf":
        return f"IVF{nlist},Flat"
    if kind == "hnsw":
        return "HNSW32,Flat"
    m = next(m for m in (d // 4, d // 2, d // 8, d, 1) if m >= 1 and d % m == 0)
    return f"IVF{nlist},PQ{m}x8np,RFlat"  # np: no polysemous training (slow, unused here)


def set_params(index: Any, kind: str, params: dict[str, int]) -> None:
    """Apply the search parameters (``nprobe``, ``efSearch``, ``k_factor``) to a loaded index."""
    faiss = _faiss()
    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "efSearch" in params:
        faiss.downcast_index(index).hnsw.efSearch = int(params["efSearch"])
    if "k_factor" in params:
        faiss.downcast_index(index).k_factor = float(params["k_factor"])


def _ann(index: Any, q: np.ndarray, rows: np.ndarray | None, k: int) -> np.ndarray:
    """Ids of the ``k`` best per query, leaving out each query's own row (when ``rows``)."""
    extra = 1 if rows is not None else 0
    _, ids = index.search(q, k + extra)
    out = np.full((len(q), k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        keep = row[(row >= 0) & (row != (rows[i] if rows is not None else -2))][:k]
        out[i, : len(keep)] = keep
    return out


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each query's true ``k`` nearest that were found."""
    hits = [
        len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, (t >= 0).sum()) for f, t in zip(found, truth)
    ]
    return float(np.mean(hits)) if hits else 1.0


def _candidates(kind: str, nlist: int) -> list[dict[str, int]]:
    if kind in ("ivf", "ivfpq"):
        probes = [p for p in NPROBES if p < nlist] + [nlist]
        if kind == "ivf":
            return [{"nprobe": p} for p in probes]
        return [{"nprobe": p, "k_factor": f} for f in K_FACTORS for p in probes]
    if kind == "hnsw":
        return [{"efSearch": e} for e in EF_SEARCH]
    return [{}]


@dataclass
class BuildReport:
    meta: dict[str, Any]
    seconds: float


def build_index(
    emb: Embeddings,
    out: str | os.PathLike[str],
    kind: str = "ivf",
    *,
    nlist: int | None = None,
    queries: int = 1000,
    target_recall: float = 0.95,
    seed: int = 0,
    source: str | None = None,
) -> BuildReport:
    """Build, tune and store the index (see the module docstring); returns what ``index.json`` holds."""
    faiss = _faiss()
    if kind not in KINDS:
        raise ConfigError(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    n, d = emb.embeddings.shape
    if n == 0:
        raise DataError(f"{source or 'embeddings'}: no rows to index")
    if kind == "ivfpq" and n < PQ_MIN_ROWS:
        raise ConfigError(f"--kind ivfpq: needs at least {PQ_MIN_ROWS} rows to train its codes, got {n}; use ivf")
    nlist = nlist or default_nlist(n)
    if kind in ("ivf", "ivfpq") and not 1 <= nlist <= n:
        raise ConfigError(f"--nlist: expected 1..{n} cells, got {nlist}")
    start = time.perf_counter()
    db = np.ascontiguousarray(l2_normalize(emb.embeddings))
    rng = np.random.default_rng(seed)
    index = faiss.index_factory(d, _factory(kind, d, n, nlist), faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        size = min(n, max(50 * nlist, PQ_MIN_ROWS if kind == "ivfpq" else 0))
        index.train(db[np.sort(rng.choice(n, size, replace=False))])
    index.add(db)
    built = time.perf_counter() - start
    # recall@10 on held-out queries: rows of the set, each looking for its nearest other rows
    q_rows = np.sort(rng.choice(n, min(queries, n), replace=False))
    k = min(RECALL_K, n - 1) if n > 1 else 1
    t0 = time.perf_counter()
    _, truth = search(db, db[q_rows], k, exclude=q_rows.tolist())
    exact_s = time.perf_counter() - t0
    chosen, recall = {}, 1.0
    for params in _candidates(kind, nlist):
        set_params(index, kind, params)
        chosen, recall = params, recall_at_k(_ann(index, db[q_rows], q_rows, k), truth)
        if recall >= target_recall:
            break
    t0 = time.perf_counter()
    _ann(index, db[q_rows], q_rows, k)
    ann_s = time.perf_counter() - t0
    meta = {
        "version": 1,
        "kind": kind,
        "factory": _factory(kind, d, n, nlist),
        "metric": "cosine",
        "rows": n,
        "dim": d,
        "params": chosen,
        **({"nlist": nlist} if kind in ("ivf", "ivfpq") else {}),
        "recall_at_10": recall,
        "target_recall": target_recall,
        "target_met": recall >= target_recall,
        "recall_queries": len(q_rows),
        "recall_k": k,
        "query_seconds": {"exact": exact_s, "index": ann_s},
        "build_seconds": built,
        "seed": seed,
        "source": source,
        "classes": emb.classes,
        "embeddings_meta": emb.meta,
        "faiss_version": getattr(faiss, "__version__", None),
    }
    _store(index, emb, Path(out), meta)
    return BuildReport(meta, time.perf_counter() - start)


def _store(index: Any, emb: Embeddings, out: Path, meta: dict[str, Any]) -> None:
    faiss, pa = _faiss(), _pyarrow()
    out.mkdir(parents=True, exist_ok=True)
    data = faiss.serialize_index(index).tobytes()
    write_atomic(out / INDEX_FILE, lambda f: f.write(data))
    columns = {"path": pa.array(emb.paths, pa.string())}
    if emb.labels is not None:
        columns["label"] = pa.array(emb.labels, pa.int64())
    write_atomic(out / ROWS_FILE, lambda f: pa.parquet.write_table(pa.table(columns), f))
    body = json.dumps({**meta, "index_sha256": hashlib.sha256(data).hexdigest()}, indent=1, default=str).encode()
    write_atomic(out / META_FILE, lambda f: f.write(body))  # last: the folder is an index once this exists


class _Vectors:
    """Row ``i``'s stored (unit-norm) vector, as ``Embeddings.embeddings[i]`` would give it."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def __getitem__(self, i: int) -> np.ndarray:
        return self.index.reconstruct(int(i))


class PersistentIndex:
    """A folder ``build_index`` wrote: ``paths``, ``labels``, ``classes``, ``meta`` and ``search``; duck-types
    the parts of ``Embeddings`` that ``vitkit.use.neighbors`` reads (``embeddings[i]``, ``dim``, ``len``)."""

    def __init__(self, folder: str | os.PathLike[str], params: dict[str, int] | None = None) -> None:
        faiss = _faiss()
        self.folder = Path(folder)
        try:
            self.meta = json.loads((self.folder / META_FILE).read_text())
        except (OSError, ValueError) as e:
            raise DataError(f"{self.folder / META_FILE}: not a readable index ({' '.join(str(e).split())})") from None
        try:
            data = (self.folder / INDEX_FILE).read_bytes()
        except OSError:
            raise DataError(f"{self.folder / INDEX_FILE}: missing; rebuild with vitkit index") from None
        if hashlib.sha256(data).hexdigest() != self.meta.get("index_sha256"):
            raise DataError(f"{self.folder / INDEX_FILE}: does not match its index.json (damaged or replaced)")
        self.index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if self.meta.get("kind") == "ivf":
            faiss.extract_index_ivf(self.index).make_direct_map()  # row queries: reconstruct(i)
        self.params = {**self.meta.get("params", {}), **(params or {})}
        set_params(self.index, self.meta.get("kind"), self.params)
        pa = _pyarrow()
        try:
            rows = pa.parquet.read_table(self.folder / ROWS_FILE)
        except (OSError, pa.ArrowException) as e:
            raise DataError(f"{self.folder / ROWS_FILE}: unreadable ({' '.join(str(e).split())})") from None
        self.paths = rows.column("path").to_pylist()
        self.labels = rows.column("label").to_numpy() if "label" in rows.column_names else None
        self.classes = self.meta.get("classes")
        if len(self.paths) != self.index.ntotal:
            raise DataError(f"{self.folder}: {self.index.ntotal} vectors but {len(self.paths)} rows")
        self.embeddings = _Vectors(self.index)
        self.dim = int(self.index.d)

    def __len__(self) -> int:
        return len(self.paths)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of the ``k`` nearest rows of each query (cosine), best first; missing: id -1."""
        q = np.ascontiguousarray(l2_normalize(np.atleast_2d(queries)))
        scores, ids = self.index.search(q, min(k, len(self)))
        return scores.astype(np.float32), ids.astype(np.int64)
