"""Nearest neighbours by cosine similarity in an embeddings file (``vitkit.use.embed``).

``cosine_search`` is exact: a matrix product of unit-norm rows, a chunk of the database at a time, the
running top-k kept per query. ``faiss_search`` does the same with faiss (``pip install faiss-cpu``):
exact inner products (``IndexFlatIP``) up to ``ivf_threshold`` rows, an inverted-file index
(``IndexIVFFlat``, approximate: ``nprobe`` of ``nlist`` cells searched) above it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data import DataError
from ..errors import ConfigError
from .embeddings_file import Embeddings, l2_normalize

SEARCH_CHUNK = 65536  # database rows per matrix product
IVF_THRESHOLD = 200_000  # faiss: exact flat index below this many rows


def _merge_topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of each row of ``scores`` (ties: lower id first), sorted best first."""
    if scores.shape[1] > k:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        scores, ids = np.take_along_axis(scores, part, 1), np.take_along_axis(ids, part, 1)
    order = np.lexsort((ids, -scores), axis=1)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def cosine_search(
    database: np.ndarray, queries: np.ndarray, k: int, chunk_size: int = SEARCH_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` cosine similarities: ``(scores (Q, k) float32, indices (Q, k) int64)``, best first.

    ``k`` larger than the database gives every row. Rows of zero norm score 0 against everything.
    """
    if k < 1:
        raise ConfigError(f"k: expected a positive int, got {k}")
    queries = l2_normalize(np.atleast_2d(queries))
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(database), chunk_size):
        block = l2_normalize(database[start : start + chunk_size])
        scores = queries @ block.T
        ids = np.broadcast_to(np.arange(start, start + len(block)), scores.shape)
        best_s, best_i = _merge_topk(np.concatenate([best_s, scores], 1), np.concatenate([best_i, ids], 1), k)
    return best_s, best_i


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ConfigError("--index faiss needs faiss: pip install faiss-cpu") from None
    return faiss


def faiss_search(
    database: np.ndarray,
    queries: np.ndarray,
    k: int,
    *,
    ivf_threshold: int = IVF_THRESHOLD,
    nlist: int | None = None,
    nprobe: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine similarities with faiss (same output as ``cosine_search``; approximate for IVF)."""
    faiss = _faiss()
    if k < 1:
        raise ConfigError(f"k: expected a positive int, got {k}")
    db = np.ascontiguousarray(l2_normalize(database))
    q = np.ascontiguousarray(l2_normalize(np.atleast_2d(queries)))
    n, d = db.shape
    if n < ivf_threshold:
        index = faiss.IndexFlatIP(d)
    else:
        nlist = nlist or int(4 * math.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = db[np.random.default_rng(0).choice(n, min(n, 64 * nlist), replace=False)]
        index.train(sample)
        index.nprobe = nprobe
    index.add(db)
    scores, ids = index.search(q, min(k, n))
    return scores.astype(np.float32), ids.astype(np.int64)  # ids -1: fewer than k found (IVF)


def search(
    database: np.ndarray,
    queries: np.ndarray,
    k: int,
    *,
    backend: str = "exact",
    exclude: Sequence[int | None] | None = None,
    **faiss_options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """``cosine_search`` (``backend="exact"``), ``faiss_search`` (``"faiss"``) or a persistent index's own
    search (``"index"``, ``database`` a ``PersistentIndex``); ``exclude[q]`` (an index or
    None) is left out of query ``q``'s results, e.g. the query itself. Missing results are id -1."""
    extra = 1 if exclude is not None and any(e is not None for e in exclude) else 0
    kk = min(k + extra, len(database))
    if backend == "index":  # a persistent index (vitkit.use.index.PersistentIndex), loaded, not rebuilt
        scores, ids = database.search(queries, kk)
    elif backend == "faiss":
        scores, ids = faiss_search(database, queries, kk, **faiss_options)
    elif backend == "exact":
        scores, ids = cosine_search(database, queries, kk)
    else:
        raise ConfigError(f"index: expected exact or faiss, got {backend!r}")
    out_s = np.full((len(ids), k), np.nan, dtype=np.float32)
    out_i = np.full((len(ids), k), -1, dtype=np.int64)
    for row in range(len(ids)):
        keep = ids[row] >= 0
        if exclude is not None and exclude[row] is not None:
            keep &= ids[row] != exclude[row]
        s, i = scores[row][keep][:k], ids[row][keep][:k]
        out_s[row, : len(s)], out_i[row, : len(i)] = s, i
    return out_s, out_i


# --------------------------------------------------------------------------------------- queries


@dataclass
class Query:
    """What the user asked for: the text, its embedding, and its row in the file when it has one."""

    text: str
    vector: np.ndarray
    index: int | None = None


def resolve_queries(
    emb: Embeddings, texts: Sequence[str], embed_images: Callable[[list[str]], np.ndarray] | None = None
) -> list[Query]:
    """Each text as a row of the file (an exact ``paths`` entry, else a row number) or an image file,
    embedded by ``embed_images`` (all image files in one call)."""
    by_path = {p: i for i, p in enumerate(emb.paths)}
    found: list[int | str] = []
    for text in texts:
        found.append(_resolve(text, emb, by_path))
    images = [f for f in found if isinstance(f, str)]
    vectors: dict[str, np.ndarray] = {}
    if images:
        if embed_images is None:
            raise ConfigError(f"{images[0]}: an image file; give --checkpoint to embed it")
        rows = np.asarray(embed_images(images), dtype=np.float32)
        if rows.shape[1] != emb.dim:
            raise ConfigError(
                f"{images[0]}: the checkpoint embeds to {rows.shape[1]} dimensions, the file holds {emb.dim}"
            )
        vectors = dict(zip(images, rows))
    return [
        Query(t, vectors[f], None) if isinstance(f, str) else Query(t, emb.embeddings[f], f)
        for t, f in zip(texts, found)
    ]


def _resolve(text: str, emb: Embeddings, by_path: dict[str, int]) -> int | str:
    if text in by_path:
        return by_path[text]
    if re.fullmatch(r"\d+", text) and int(text) < len(emb):
        return int(text)
    if os.path.isfile(text):
        absolute = os.path.abspath(text)
        for path, i in by_path.items():  # the same file named differently (relative, ./, absolute)
            if os.path.abspath(path) == absolute:
                return i
        return text
    if re.fullmatch(r"\d+", text):
        raise DataError(f"query {text}: index out of range (the file holds {len(emb)} embeddings)")
    raise DataError(f"query {text!r}: not a row number, a path in the file, nor an image file")


def neighbors(
    emb: Embeddings,
    queries: list[Query],
    k: int = 10,
    *,
    backend: str = "exact",
    include_self: bool = False,
    **faiss_options: Any,
) -> list[dict[str, Any]]:
    """The ``k`` nearest rows of each query, as JSON-able dicts (a query that is a row of the file is
    left out of its own results unless ``include_self``)."""
    if not queries:
        return []
    exclude = None if include_self else [q.index for q in queries]
    database = emb.embeddings
    if not isinstance(emb, Embeddings):  # a PersistentIndex answers itself
        database, backend, faiss_options = emb, "index", {}
    scores, ids = search(
        database, np.stack([q.vector for q in queries]), k, backend=backend, exclude=exclude, **faiss_options
    )
    return [
        {
            "query": q.text,
            "index": q.index,
            "path": emb.paths[q.index] if q.index is not None else q.text,
            **_label_of(emb, q.index),
            "neighbors": [
                _row(emb, r + 1, int(i), float(s)) for r, (i, s) in enumerate(zip(ids[n], scores[n])) if i >= 0
            ],
        }
        for n, q in enumerate(queries)
    ]


def _label_of(emb: Embeddings, index: int | None) -> dict[str, Any]:
    if index is None or emb.labels is None:
        return {}
    label = int(emb.labels[index])
    out: dict[str, Any] = {"label": label}
    if emb.classes is not None and 0 <= label < len(emb.classes):
        out["class"] = emb.classes[label]
    return out


def _row(emb: Embeddings, rank: int, index: int, score: float) -> dict[str, Any]:
    return {"rank": rank, "index": index, "score": score, "path": emb.paths[index], **_label_of(emb, index)}


def format_table(results: list[dict[str, Any]]) -> str:
    """Plain-text table: one block per query."""
    lines = []
    for res in results:
        head = f"query {res['query']}"
        if res["index"] is not None and res["path"] != res["query"]:
            head += f" ({res['path']})"
        if "class" in res or "label" in res:
            head += f"  class {res.get('class', res.get('label'))}"
        lines.append(head)
        lines.append(f"  {'rank':>4}  {'score':>7}  {'index':>7}  {'class':<12}  path")
        for row in res["neighbors"]:
            cls = str(row.get("class", row.get("label", "")))
            lines.append(f"  {row['rank']:>4}  {row['score']:>7.4f}  {row['index']:>7}  {cls:<12}  {row['path']}")
    return "\n".join(lines)
