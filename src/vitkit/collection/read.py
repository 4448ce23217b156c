"""Reading embeddings back: one file (``Embeddings.save``) or a finished collection folder as one table."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data import DataError
from ..use.embeddings_file import Embeddings, _read_npz, _read_parquet, embeddings_from_table, format_for
from .errors import CollectionError
from .store import read_manifest, read_table


def load_embeddings(path: str | os.PathLike[str]) -> Embeddings:
    """Read a file ``Embeddings.save`` wrote (.npz or .parquet) or a folder of parts from ``vitkit embed -o DIR``;
    a DataError names what is wrong."""
    path = Path(path)
    if path.is_dir():
        return read_embeddings(path)
    if not path.is_file():
        raise DataError(f"{path}: no such embeddings file")
    return _read_parquet(path) if format_for(path) == "parquet" else _read_npz(path)


def read_embeddings(folder: str | os.PathLike[str]) -> Embeddings:
    """The embeddings of ``vitkit embed -o FOLDER``, rows in data-set order; a CollectionError otherwise."""
    manifest = read_manifest(folder)
    if manifest.get("task") != "embed":
        raise CollectionError(f"{folder}: holds {manifest.get('task')!r} output, not embeddings")
    table = read_table(folder)
    meta, classes = manifest.get("meta") or {}, manifest.get("classes")
    if table is None:
        return Embeddings(np.zeros((0, int(manifest.get("dim") or 0)), np.float32), [], None, classes, meta)
    return embeddings_from_table(table, str(folder), classes, meta)
