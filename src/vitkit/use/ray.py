"""Embeddings of a Ray Dataset: the collection job's per-image path, mapped by a pool of Ray actors.

For clusters that run Ray rather than torchrun (``pip install 'vitkit[ray]'``). Each actor loads the
checkpoint once (``backend``: torch, onnxruntime, openvino) and embeds batches of rows exactly as ``vitkit
embed`` does under torchrun: vitkit's decoder (``data.decode``: EXIF, transparency, 16-bit policies), the
checkpoint's eval transform, the representation y (optionally of unit norm). So the same image gets the
same vector on either path (``tests/test_ray.py`` checks it, to 1e-5).

Rows in, rows out: every input row comes back once, with its columns, plus ``embedding`` (float32, the
model's width) and ``skipped`` (why an image could not be read; null when it was); a ``bytes`` column is
dropped once decoded. A skipped row's embedding is null, never a made-up vector; ``strict=True`` stops the
job at the first one instead.
Rows name their image by ``path`` (a file every actor can read) or carry its encoded ``bytes`` (as
``ray.data.read_binary_files(..., include_paths=True)`` gives them).

    import ray
    from vitkit.use import ray as vray

    ds = vray.from_data("photos/")          # a folder of class folders, or a .csv/.jsonl manifest
    out = vray.embed(ds, "model.safetensors", actors=2, threads=1)
    out.write_parquet("embeddings/")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError

INSTALL_HINT = "pip install 'vitkit[ray]'"
PATH, BYTES, LABEL, EMBEDDING, SKIPPED = "path", "bytes", "label", "embedding", "skipped"


def require_ray() -> Any:
    """The ``ray`` module (with Ray Data), or a one-line hint naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(f"the Ray path needs Ray Data: {INSTALL_HINT}") from None
    return ray


def from_data(spec: str | Sequence[str]) -> Any:
    """A Ray Dataset of ``path`` (and ``label`` for labelled sets) rows, in the order ``vitkit embed`` reads them.

    ``spec``: a folder of class folders or a ``.csv``/``.jsonl`` manifest (``vitkit.data.open_dataset``), or a
    list of image files and folders (every image below, unlabelled). Shards and built-in sets are not file
    rows: read shards with Ray's own ``read_webdataset``.
    """
    ray = require_ray()
    from ..data import open_dataset
    from ..data.base import FileSamples
    from ..data.errors import DataError
    from ..data.files import ImageFiles

    data = ImageFiles(list(spec)) if not isinstance(spec, str) else open_dataset(spec)
    if not isinstance(data, FileSamples):
        raise DataError(f"{spec}: the Ray path reads image files (a folder, a manifest, a list of files)")
    data.validate()  # no class folders, an empty class: said now, in one line
    if data.classes:
        rows = [{PATH: p, LABEL: int(label)} for p, label in data.samples]
    else:
        rows = [{PATH: p} for p, _ in data.samples]
    return ray.data.from_items(rows)


class Embedder:
    """One actor's model; called on a ``pyarrow.Table`` batch, returns it with ``embedding`` and ``skipped``."""

    def __init__(
        self, checkpoint: str, backend: str = "torch", threads: int = 1, normalize: bool = False, strict: bool = False
    ) -> None:
        import torch

        from ..data import build_transform
        from ..models.transform import transform_for
        from .backend import load_for_inference

        torch.set_num_threads(max(1, int(threads)))
        model = load_for_inference(checkpoint, backend, "cpu", output="embedding")  # type: ignore[arg-type]
        self.model, self.normalize, self.dim = model, normalize, int(model.config.embed_dim)
        self.transform = build_transform(transform_for(model), train=False)
        self.strict = strict

    def _image(self, row: int, paths: list[Any], blobs: list[Any] | None) -> Any:
        from ..data.decode import decode_image, load_image

        where = str(paths[row]) if paths[row] is not None else f"row {row}"
        if blobs is not None:
            return self.transform(decode_image(blobs[row], where))
        return self.transform(load_image(where))

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa
        import torch

        from ..data.errors import DataError, one_line
        from .embed import embed_batch

        n = batch.num_rows
        paths = batch.column(PATH).to_pylist() if PATH in batch.column_names else [None] * n
        blobs = batch.column(BYTES).to_pylist() if BYTES in batch.column_names else None
        if blobs is None and PATH not in batch.column_names:
            raise DataError(f"rows need a {PATH!r} or a {BYTES!r} column; these have {batch.column_names}")
        images, good = [], []
        reasons: list[str | None] = [None] * n
        for i in range(n):
            try:
                images.append(self._image(i, paths, blobs))
                good.append(i)
            except (DataError, OSError, ValueError) as err:
                reason = one_line(err, limit=None)
                if self.strict:
                    raise DataError(f"{reason} (strict)") from None
                reasons[i] = reason
        vectors: list[Any] = [None] * n
        if images:
            emb = embed_batch(self.model, torch.stack(images), self.normalize)
            for j, i in enumerate(good):
                vectors[i] = emb[j]
        column = pa.array(
            [None if v is None else np.asarray(v, np.float32) for v in vectors], type=pa.list_(pa.float32(), self.dim)
        )
        if blobs is not None:  # the encoded images stay behind: the output is the rows and their vectors
            batch = batch.drop_columns([BYTES])
        batch = batch.append_column(EMBEDDING, column)
        return batch.append_column(SKIPPED, pa.array(reasons, type=pa.string()))


def embed(
    ds: Any,
    checkpoint: str | os.PathLike[str],
    *,
    backend: str = "torch",
    batch_size: int = 64,
    actors: int = 2,
    threads: int = 1,
    normalize: bool = False,
    strict: bool = False,
) -> Any:
    """``ds`` with ``embedding`` and ``skipped`` columns (lazy, as Ray Datasets are; see the module docstring).

    ``actors`` actors, each with ``threads`` CPUs for its model (Ray reserves that many per actor), take
    batches of ``batch_size`` rows. ``backend`` as in ``vitkit embed --backend`` (``auto`` measures in every
    actor, so name one on a cluster). Leave the cluster CPUs beyond ``actors * threads`` for the tasks that
    read the rows (``read_binary_files`` and the like): with every CPU held by an actor they never start.
    """
    ray = require_ray()
    for name, value in {"batch_size": batch_size, "actors": actors, "threads": threads}.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name}: expected a positive int, got {value!r}")
    if ray.is_initialized():
        cpus = ray.cluster_resources().get("CPU", 0)
        if actors * threads > cpus:
            raise ConfigError(f"actors x threads = {actors * threads} CPUs, but the Ray cluster has {cpus:g}")
    checkpoint = os.fspath(checkpoint)
    # loaded once here too, so that a missing file or a model that cannot embed fails now, in one line,
    # not later inside every actor
    from .backend import load_for_inference

    load_for_inference(checkpoint, "torch" if backend == "auto" else backend, "cpu", output="embedding")  # type: ignore[arg-type]
    return ds.map_batches(
        Embedder,
        fn_constructor_kwargs={
            "checkpoint": checkpoint,
            "backend": backend,
            "threads": threads,
            "normalize": normalize,
            "strict": strict,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=actors,
        num_cpus=threads,
    )
