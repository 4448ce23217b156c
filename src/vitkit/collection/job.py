"""What ``vitkit embed``, ``predict -o`` and ``eval`` share under ``torchrun``: the process group, this
rank's device, and where the output goes (a folder of parts, or one file assembled from one).

``-o OUT.npz`` / ``OUT.parquet`` (or ``--format``): the parts are kept in ``OUT.partial/`` until every
one is final, then rank 0 writes the single file atomically and removes the folder. Any other ``-o``
is a folder that is itself the data set (``vitkit.collection.store``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from ..train.distributed import Dist, setup
from .run import Summary

FILE_SUFFIXES = (".npz", ".parquet", ".pq")
SHOWN_SKIPPED = 5


def rank_device(name: str | None) -> torch.device:
    """``--device``, else this rank's GPU (``LOCAL_RANK``) when there is one, else the CPU."""
    from ..runtime.device import pick_device

    if name is None and torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
    return pick_device(name)


def join(device: torch.device) -> Dist:
    """This process's place in the job (a single process when not under torchrun)."""
    return setup(device)


def is_file_output(out: str, format: str | None) -> bool:
    return format is not None or out.lower().endswith(FILE_SUFFIXES)


def staging_folder(out: str, format: str | None) -> Path:
    """Where the parts are written: ``out`` itself, or ``out.partial`` for a single-file output."""
    return Path(out + ".partial") if is_file_output(out, format) else Path(out)


def report_skipped(task: str, summary: Summary) -> list[list[str]]:
    """Print how many images were skipped (and the first few); the full list for a file's meta."""
    from ..collection.store import SKIPPED, pyarrow

    if not summary.skipped:
        return []
    table = pyarrow().parquet.read_table(summary.folder / SKIPPED)
    rows = [[p, r] for p, r in zip(table.column("path").to_pylist(), table.column("reason").to_pylist())]
    for path, reason in rows[:SHOWN_SKIPPED]:
        print(f"{task}: skipped {reason if path in reason else f'{path}: {reason}'}", file=sys.stderr)
    return rows


def finish_file(summary: Summary, out: str, format: str | None, meta: dict[str, Any]) -> Any:
    """Rank 0, single-file output: the staged parts as one ``.npz``/``.parquet`` file; the staging removed."""
    from .read import read_embeddings

    emb = read_embeddings(summary.folder)
    emb.meta = meta
    emb.save(out, format)
    shutil.rmtree(summary.folder)
    return emb
