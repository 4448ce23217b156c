"""What identifies a checkpoint for the records kept about it (a collection's job, auto's measurements, an
exported graph): its absolute path, or its hub name, and the weights file's modification time."""

from __future__ import annotations

import os
from pathlib import Path

from ..hub import is_name
from .load import RUN_DIR_WEIGHTS


def checkpoint_identity(path: str) -> dict[str, object]:
    """The checkpoint as the records see it: its absolute path (or name) and the weights file's mtime."""
    p = Path(path)
    weights = next((p / n for n in RUN_DIR_WEIGHTS if (p / n).is_file()), p / "config.json") if p.is_dir() else p
    where = path if is_name(path) else os.path.abspath(path)  # a checkpoint name stays a name (cached file)
    return {
        "checkpoint": where,
        "checkpoint_mtime_ns": weights.stat().st_mtime_ns if weights.exists() else None,
    }
