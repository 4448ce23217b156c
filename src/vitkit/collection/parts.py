"""A collection's input cut into parts: the unit that one rank embeds, writes and, after a kill, redoes.

Parts are fixed by the input alone, never by the number of processes: an indexable set (files, manifest
rows, a built-in set) is cut into ``part_size`` consecutive rows, a WebDataset into one part per shard
(a shard is read whole by one reader, so a tar is never opened twice). Rank ``r`` of ``W`` takes parts
``r, r + W, ...``; a job restarted with another ``W`` still finds the parts it finished.

``PartReader`` decodes in DataLoader worker processes: worker ``w`` reads whole parts (``w``-th of the
rank's list, every ``num_workers``-th), so each part's rows arrive in input order from one process.
It yields tagged records, not bare batches, so that the main process can tell where a part ends and
which images could not be read (and why) without any worker raising.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..data import (
    ArrayDataset,
    DataError,
    LabeledDataset,
    TransformConfig,
    WebDataset,
    batch_transform,
    build_transform,
)
from ..data.errors import one_line
from ..data.shards import local_path


@dataclass(frozen=True)
class Part:
    """Rows ``start..stop`` of an indexable set, or the whole of ``shard``."""

    index: int
    start: int = 0
    stop: int = 0
    shard: str | None = None

    @property
    def size(self) -> int | None:
        """Rows in the input (unknown for a shard until it is read)."""
        return None if self.shard is not None else self.stop - self.start


def plan_parts(dataset: LabeledDataset, part_size: int) -> list[Part]:
    """Every part of ``dataset`` in input order (see the module docstring)."""
    if part_size <= 0:
        raise DataError(f"--part-size: expected a positive number of images, got {part_size}")
    if isinstance(dataset, WebDataset):
        return [Part(i, shard=url) for i, url in enumerate(dataset.urls)]
    n = len(dataset)
    return [Part(i, start, min(start + part_size, n)) for i, start in enumerate(range(0, n, part_size))]


def parts_of_rank(parts: list[Part], rank: int, world_size: int) -> list[Part]:
    """Rank ``rank``'s fixed share: every ``world_size``-th part from ``rank`` on (disjoint, covering)."""
    return parts[rank::world_size]


def input_fingerprint(dataset: LabeledDataset) -> dict[str, Any]:
    """What the input is, cheaply: row count and a digest of every row's name (files, manifest rows), or
    of each shard's name, size and modification time (shards are not read)."""
    h = hashlib.sha256()
    if isinstance(dataset, WebDataset):
        for url in dataset.urls:
            path = local_path(url)
            st = os.stat(path) if path is not None and os.path.isfile(path) else None
            h.update(f"{url}\0{st.st_size if st else ''}\0{st.st_mtime_ns if st else ''}\n".encode())
        return {"shards": len(dataset.urls), "digest": h.hexdigest()[:16]}
    for i in range(len(dataset)):
        h.update(dataset.describe(i).encode() + b"\n")
    return {"rows": len(dataset), "digest": h.hexdigest()[:16]}


class PartReader(IterableDataset):
    """Tagged records of ``parts`` (see the module docstring):

    ``("batch", part, images (B, C, H, W), labels (B,), paths)`` — at most ``batch_size`` rows, one part;
    ``("skip", part, path, reason)`` — an image that could not be read;
    ``("end", part)`` — every row of the part has been sent.
    """

    def __init__(self, dataset: LabeledDataset, parts: list[Part], cfg: TransformConfig, batch_size: int) -> None:
        self.dataset, self.parts, self.cfg, self.batch_size = dataset, parts, cfg, batch_size

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for part in self.parts[worker::workers]:
            yield from self._read(part)
            yield ("end", part.index)

    def _read(self, part: Part) -> Iterator[tuple[Any, ...]]:
        data = self.dataset
        if isinstance(data, ArrayDataset):  # in memory: whole batches transformed at once
            for start in range(part.start, part.stop, self.batch_size):
                index = torch.arange(start, min(start + self.batch_size, part.stop))
                images = batch_transform(data.images[index], self.cfg, False)
                yield ("batch", part.index, images, data.labels[index], [data.describe(int(i)) for i in index])
            return
        transform = build_transform(self.cfg, train=False)
        rows: list[tuple[torch.Tensor, int, str]] = []
        for where, image, label, reason in self._samples(part):
            if reason is None:
                try:
                    rows.append((transform(image), label, where))
                except (DataError, OSError, ValueError) as err:  # e.g. a truncated file PIL decodes lazily
                    reason = one_line(err, limit=None)
            if reason is not None:
                yield ("skip", part.index, where, reason)
            if len(rows) == self.batch_size:
                yield self._batch(part, rows)
                rows = []
        if rows:
            yield self._batch(part, rows)

    def _samples(self, part: Part) -> Iterator[tuple[str, Any, int | None, str | None]]:
        if part.shard is not None:
            yield from self.dataset.read_shard(part.shard)
            return
        for i in range(part.start, part.stop):
            where = self.dataset.describe(i)
            try:
                item = self.dataset[i]
            except DataError as err:
                yield where, None, None, str(err)
                continue
            if item is None:  # a set opened with skip_bad says so without a reason
                yield where, None, None, "undecodable image"
                continue
            yield where, item[0], int(item[1]), None

    @staticmethod
    def _batch(part: Part, rows: list[tuple[torch.Tensor, int, str]]) -> tuple[Any, ...]:
        images = torch.stack([r[0] for r in rows])
        labels = torch.tensor([r[1] for r in rows], dtype=torch.int64)
        return ("batch", part.index, images, labels, [r[2] for r in rows])
