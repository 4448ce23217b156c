"""Data specs: one string selects a data set (see ``open_dataset``)."""

from __future__ import annotations

import os

from vitkit.data.base import LabeledDataset
from vitkit.data.builtin import BUILTIN, is_builtin, open_builtin
from vitkit.data.errors import DataError
from vitkit.data.folder import ImageFolderDataset
from vitkit.data.manifest import MANIFEST_EXTENSIONS, ManifestDataset
from vitkit.data.shards import is_shard_spec
from vitkit.data.subsets import nested_subset, split_subset
from vitkit.data.webdataset import WebDataset


def open_dataset(spec: str, *, root: str | None = None, skip_bad: bool = False) -> LabeledDataset:
    """Open the data set ``spec`` names, checked in this order:

    1. ``name[:split]``, a built-in: ``fashion-mnist``, ``mnist-5k``, ``digits`` (split ``train``
       by default, or ``test``); ``root`` is then where to look for (or download) its files.
    2. ``pipe:cmd`` or a path ending in ``.tar``/``.tar.gz``/``.tgz``, brace patterns allowed
       (``shards-{000..099}.tar``): WebDataset shards.
    3. A ``.csv`` or ``.jsonl`` file: a manifest.
    4. A folder: one sub-folder per class.

    Any of them followed by ``@N`` (``fashion-mnist:train@1000``): its first N images in one fixed
    permutation, so smaller subsets are contained in larger ones (in-memory data sets only).

    Relative paths are taken from ``root`` when given. ``skip_bad`` makes undecodable images of
    folders, manifests and shards skipped and counted instead of raised. Opening is cheap (no
    decoding); call ``validate()`` on the result for a first-problem check before training.
    """
    if not spec:
        raise DataError("empty data spec")
    base, n = split_subset(spec)
    if n is not None:
        return nested_subset(open_dataset(base, root=root, skip_bad=skip_bad), n, spec)
    if is_builtin(spec):
        return open_builtin(spec, root)
    if spec.startswith("pipe:"):
        return WebDataset(spec, skip_bad=skip_bad)
    path = os.path.join(root, spec) if root is not None else spec
    if is_shard_spec(spec):
        return WebDataset(path, skip_bad=skip_bad)
    if spec.lower().endswith(MANIFEST_EXTENSIONS):
        return ManifestDataset(path, skip_bad=skip_bad)
    if os.path.isdir(path):
        return ImageFolderDataset(path, skip_bad=skip_bad)
    raise DataError(
        f"unknown data spec {spec!r}: not a folder, a .csv/.jsonl manifest, .tar shards (or pipe:cmd), "
        f"nor a built-in name ({', '.join(BUILTIN)}, each with optional :train or :test)"
    )
