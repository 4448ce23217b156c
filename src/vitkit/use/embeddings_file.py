"""The embeddings file: ``Embeddings`` (vectors with their paths, labels, class names and meta) and its two formats.

``.npz`` with arrays ``embeddings`` (N, D) float32, ``paths`` (N,) str, ``labels`` (N,) int64 when known,
``classes`` and ``meta`` (a JSON string: checkpoint, data, normalisation); or Parquet (``pyarrow``), one row per
image: ``path``, ``label``, ``embedding`` (fixed-size list of float32), with ``classes`` and ``meta`` in the
schema metadata under ``vitkit``. ``vitkit.use.embed`` computes them; ``vitkit.collection`` writes them in parts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..atomic import write_atomic
from ..data import DataError

Format = Literal["npz", "parquet"]
FORMATS = ("npz", "parquet")


@dataclass
class Embeddings:
    """Embeddings ``(N, D)`` float32 with each image's ``paths`` entry (``dataset.describe(i)``),
    ``labels`` (int64, or None when unknown), the ``classes`` names and free-form ``meta``."""

    embeddings: np.ndarray
    paths: list[str]
    labels: np.ndarray | None = None
    classes: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if self.embeddings.ndim != 2:
            raise DataError(f"embeddings: expected an (N, D) array, got shape {self.embeddings.shape}")
        self.paths = [str(p) for p in self.paths]
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
        for name, n in (("paths", len(self.paths)), ("labels", None if self.labels is None else len(self.labels))):
            if n is not None and n != len(self.embeddings):
                raise DataError(f"embeddings: {len(self.embeddings)} rows but {n} {name}")

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def dim(self) -> int:
        return self.embeddings.shape[1]

    def normalized(self) -> Embeddings:
        """A copy with every row scaled to unit L2 norm (zero rows stay zero)."""
        return dataclasses.replace(
            self, embeddings=l2_normalize(self.embeddings), meta={**self.meta, "normalized": True}
        )

    def save(self, path: str | os.PathLike[str], format: Format | None = None) -> Path:
        """Write atomically (a reader sees the old file or the new one); format from the suffix by default."""
        path = Path(path)
        fmt = format or format_for(path)
        if fmt not in FORMATS:
            raise DataError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        write = _write_parquet if fmt == "parquet" else _write_npz
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: write(self, f))
        return path


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of ``x`` divided by their L2 norm (float32)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def format_for(path: str | os.PathLike[str]) -> Format:
    """``parquet`` for ``.parquet``/``.pq`` names, else ``npz``."""
    return "parquet" if str(path).lower().endswith((".parquet", ".pq")) else "npz"


# -------------------------------------------------------------------------------------------- files


def _write_npz(e: Embeddings, f: Any) -> None:
    arrays: dict[str, np.ndarray] = {
        "embeddings": e.embeddings,
        "paths": np.array(e.paths, dtype=str),
        "meta": np.array(json.dumps(e.meta)),
    }
    if e.labels is not None:
        arrays["labels"] = e.labels
    if e.classes is not None:
        arrays["classes"] = np.array(e.classes, dtype=str)
    np.savez(f, **arrays)


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise DataError("parquet files need pyarrow: pip install pyarrow") from None
    return pyarrow


def _write_parquet(e: Embeddings, f: Any) -> None:
    pa = _pyarrow()
    flat = pa.array(e.embeddings.reshape(-1), type=pa.float32())
    columns = {"path": pa.array(e.paths, type=pa.string())}
    if e.labels is not None:
        columns["label"] = pa.array(e.labels, type=pa.int64())
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(flat, e.dim)
    meta = {"classes": e.classes, "meta": e.meta}
    table = pa.table(columns).replace_schema_metadata({"vitkit": json.dumps(meta)})
    pa.parquet.write_table(table, f)


def _read_npz(path: Path) -> Embeddings:
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle it
        raise DataError(f"{path}: not an .npz file (expected one written by `vitkit embed`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if "embeddings" not in arrays:
        raise DataError(f"{path}: no 'embeddings' array (holds: {', '.join(sorted(arrays)) or 'nothing'})")
    emb = arrays["embeddings"]
    paths = arrays["paths"].tolist() if "paths" in arrays else [str(i) for i in range(len(emb))]
    classes = arrays["classes"].tolist() if "classes" in arrays else None
    meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
    return Embeddings(emb, paths, arrays.get("labels"), classes, meta)


def _read_parquet(path: Path) -> Embeddings:
    pa = _pyarrow()
    try:
        table = pa.parquet.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    info = json.loads((table.schema.metadata or {}).get(b"vitkit", b"{}"))
    return embeddings_from_table(table, str(path), info.get("classes"), info.get("meta") or {})


def embeddings_from_table(table: Any, where: str, classes: list[str] | None, meta: dict[str, Any]) -> Embeddings:
    """Embeddings from a pyarrow Table with columns ``embedding`` (fixed-size list), ``path``, ``label``."""
    pa = _pyarrow()
    if "embedding" not in table.column_names:
        raise DataError(f"{where}: no 'embedding' column (columns: {', '.join(table.column_names)})")
    column = table.column("embedding")
    if not pa.types.is_fixed_size_list(column.type):
        raise DataError(f"{where}: the 'embedding' column is not a fixed-size list")
    size = column.type.list_size
    column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    emb = column.flatten().to_numpy().reshape(len(table), size)
    paths = table.column("path").to_pylist() if "path" in table.column_names else [str(i) for i in range(len(emb))]
    labels = table.column("label").to_numpy() if "label" in table.column_names else None
    return Embeddings(emb, paths, labels, classes, meta)


# ------------------------------------------------------------------------------------ computation
