"""The embeddings file behind ``/v1/neighbors`` and the thumbnails of its rows.

Thumbnails are served by row number only: the server reads a file only when it is a ``paths`` entry of
the embeddings file, so no request can name a file of its own.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from ..collection.read import load_embeddings
from ..data import DataError, load_image
from ..errors import ConfigError
from ..use.embeddings_file import Embeddings
from ..use.neighbors import Query, neighbors
from .errors import RequestError

THUMBNAIL_SIZE = 128


class Gallery:
    """An embeddings file or folder (``vitkit embed``) or an index (``vitkit index``): nearest rows by cosine
    similarity, and thumbnails."""

    def __init__(self, path: str | os.PathLike[str], embed_dim: int, max_pixels: int) -> None:
        from ..use.index import PersistentIndex, is_index

        self.path = str(path)
        # an index folder (vitkit index) is loaded as built; an embeddings file is searched exactly
        self.emb: Embeddings | PersistentIndex = PersistentIndex(path) if is_index(path) else load_embeddings(path)
        if self.emb.dim != embed_dim:
            raise ConfigError(
                f"--neighbors {path}: embeddings of dimension {self.emb.dim}, but the checkpoint embeds to {embed_dim}"
            )
        self.max_pixels = max_pixels
        self.has_files = [os.path.isfile(p) for p in self.emb.paths]

    def nearest(self, vector: np.ndarray, name: str, k: int) -> list[dict[str, Any]]:
        """The ``k`` nearest rows to one embedding, best first, each with a thumbnail URL when it is a file."""
        rows = neighbors(self.emb, [Query(name, np.asarray(vector, dtype=np.float32))], k)[0]["neighbors"]
        return [{**r, "thumbnail": f"/v1/thumbnail/{r['index']}" if self.has_files[r["index"]] else None} for r in rows]

    def thumbnail(self, index: int) -> bytes:
        """PNG bytes of row ``index``'s image, at most ``THUMBNAIL_SIZE`` pixels on a side (404 otherwise)."""
        if not 0 <= index < len(self.emb):
            raise RequestError(404, f"thumbnail {index}: no such row (the embeddings file holds {len(self.emb)})")
        if not self.has_files[index]:
            raise RequestError(404, f"thumbnail {index}: row {index} ({self.emb.paths[index]}) is not an image file")
        try:
            image = load_image(self.emb.paths[index], max_pixels=self.max_pixels)
        except DataError as e:
            raise RequestError(404, f"thumbnail {index}: {e}") from None
        image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue()

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/model`` reports about the file."""
        info = {"file": self.path, "rows": len(self.emb), "dim": self.emb.dim, "thumbnails": int(sum(self.has_files))}
        if not isinstance(self.emb, Embeddings):
            m = self.emb.meta
            info["index"] = {"kind": m.get("kind"), "params": self.emb.params, "recall_at_10": m.get("recall_at_10")}
        return info
