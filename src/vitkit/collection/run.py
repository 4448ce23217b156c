"""Run a collection job: this rank's parts of the input through a head, each part written when whole.

Under ``torchrun`` every rank calls ``run_collection`` with the same arguments. Rank 0 takes the folder
lock and checks the folder belongs to this job, then tells the others (one broadcast: every rank refuses
together). Each rank then embeds its own parts (``parts.parts_of_rank``), skipping those already final.
There is no collective at the end: a rank whose parts were all done by an earlier run would otherwise
wait in a barrier past its timeout while the others work; rank 0 instead watches the folder until every
part is final, then writes the skipped table and the manifest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data import DataError, LabeledDataset, TransformConfig
from ..train.distributed import Dist
from .errors import CollectionError
from .heads import concat
from .lock import FolderLock
from .parts import Part, PartReader, parts_of_rank, plan_parts
from .progress import Progress
from .store import Store

POLL_S = 1.0  # how often rank 0 looks for the other ranks' parts


@dataclass
class Summary:
    """What the job left: rows, skipped images, parts (rank 0's view; other ranks: their own parts)."""

    folder: Path
    rows: int
    skipped: int
    parts: int
    written: int  # parts this run wrote (the rest were final already)
    manifest: dict[str, Any] | None


def _broadcast_error(message: str | None, d: Dist) -> str | None:
    if not d.enabled:
        return message
    import torch.distributed as dist

    box = [message]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def run_collection(
    head: Any,
    dataset: LabeledDataset,
    folder: str | Path,
    identity: dict[str, Any],
    transform: TransformConfig,
    d: Dist,
    *,
    part_size: int = 4096,
    batch_size: int = 256,
    num_workers: int = 0,
    strict: bool = False,
    device: torch.device | None = None,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
    on_part: Callable[[int], None] | None = None,
) -> Summary:
    """Compute ``head`` over ``dataset`` into ``folder`` (``vitkit.collection.store``), resumably.

    ``identity``: JSON-able facts a rerun must match (checkpoint, input, transform ...); ``extra`` goes
    into each part's footer and the manifest (classes, meta). ``strict``: an unreadable image stops the
    job (a DataError naming it) instead of being skipped and recorded. ``on_part(i)`` is called after
    part ``i`` is final (tests use it to stop a job midway).
    """
    if batch_size <= 0:
        raise DataError(f"--batch-size: expected a positive int, got {batch_size}")
    if num_workers < 0:
        raise DataError(f"--workers: expected 0 or more, got {num_workers}")
    parts = plan_parts(dataset, part_size)
    identity = {**identity, "part_size": part_size, "head": {"task": head.task, **head.describe()}}
    store = Store(folder, identity)
    lock = FolderLock(folder, f"vitkit {head.task}")
    message = None
    if d.is_main:
        try:
            lock.acquire()
            store.claim()
        except CollectionError as e:
            message = str(e)
    message = _broadcast_error(message, d)
    if message is not None:
        raise CollectionError(message)
    try:
        done = store.finished()
        if done is not None:
            if d.is_main:
                print(f"{head.task}: {folder} is complete already (same job); nothing to do", file=sys.stderr)
            return Summary(Path(folder), done["rows"], done["skipped"], len(parts), 0, done)
        mine = parts_of_rank(parts, d.rank, d.world_size)
        pending = [p for p in mine if store.part_info(p.index) is None]
        if d.is_main and len(pending) < len(mine):
            print(
                f"{head.task}: resuming, {len(mine) - len(pending)} of rank 0's {len(mine)} parts final",
                file=sys.stderr,
            )
        written = _work(
            head,
            dataset,
            store,
            pending,
            transform,
            d,
            batch_size,
            num_workers,
            strict,
            device,
            progress,
            extra,
            on_part,
        )
        if not d.is_main:
            return Summary(Path(folder), 0, 0, len(parts), written, None)
        _wait_for_parts(store, [p.index for p in parts])
        manifest = store.finish(len(parts), {**(extra or {}), "task": head.task})
        return Summary(Path(folder), manifest["rows"], manifest["skipped"], len(parts), written, manifest)
    finally:
        lock.release()


def _work(
    head: Any,
    dataset: LabeledDataset,
    store: Store,
    pending: list[Part],
    transform: TransformConfig,
    d: Dist,
    batch_size: int,
    num_workers: int,
    strict: bool,
    device: torch.device | None,
    progress: bool,
    extra: dict[str, Any] | None,
    on_part: Callable[[int], None] | None,
) -> int:
    if not pending:
        return 0
    if hasattr(dataset, "classes"):
        _ = dataset.classes  # a WebDataset resolves its classes once here, not in every worker
    reader = PartReader(dataset, pending, transform, batch_size)
    workers = min(num_workers, len(pending))
    loader = DataLoader(reader, batch_size=None, num_workers=workers, collate_fn=_identity)
    sizes = [p.size for p in pending]
    total = sum(sizes) if all(s is not None for s in sizes) else None
    bar = Progress(head.task, total, parts=len(pending), enabled=progress and d.is_main, world_size=d.world_size)
    outputs: dict[int, list[dict[str, Any]]] = {p.index: [] for p in pending}
    paths: dict[int, list[str]] = {p.index: [] for p in pending}
    labels: dict[int, list[np.ndarray]] = {p.index: [] for p in pending}
    skipped: dict[int, list[tuple[str, str]]] = {p.index: [] for p in pending}
    written = 0
    labelled = bool(getattr(dataset, "classes", None))
    for record in loader:
        kind, part = record[0], record[1]
        if kind == "batch":
            images = record[2] if device is None else record[2].to(device)
            outputs[part].append(head(images))
            labels[part].append(record[3].numpy())
            paths[part] += record[4]
            bar.update(len(record[4]))
        elif kind == "skip":
            if strict:
                raise DataError(_reason(record[2], record[3]) + " (--strict)")
            skipped[part].append((record[2], record[3]))
            bar.update(1)
        elif kind == "end":
            columns: dict[str, Any] = {"path": paths.pop(part)}
            lab = labels.pop(part)
            if labelled:
                columns["label"] = np.concatenate(lab) if lab else np.zeros(0, np.int64)
            columns.update(concat(outputs.pop(part), head.empty()))
            store.write_part(part, columns, skipped.pop(part), extra or {})
            written += 1
            bar.part_done()
            if on_part is not None:
                on_part(part)
    bar.close()
    return written


def _reason(where: str, reason: str) -> str:
    return reason if where in reason else f"{where}: {reason}"


def _wait_for_parts(store: Store, indices: list[int]) -> None:
    """Block until every part is final (written by any rank)."""
    waiting = [i for i in indices if store.part_info(i) is None]
    while waiting:
        time.sleep(POLL_S)
        waiting = [i for i in waiting if store.part_info(i) is None]


def _identity(item: Any) -> Any:
    return item
