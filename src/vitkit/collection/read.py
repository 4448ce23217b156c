"""Reading a finished collection folder back as one table (``vitkit.use.embed.load_embeddings`` on a folder)."""

from __future__ import annotations

import os

import numpy as np

from ..use.embeddings_file import Embeddings, embeddings_from_table
from .errors import CollectionError
from .store import read_manifest, read_table


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
