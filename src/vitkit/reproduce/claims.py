"""Who runs which (run, seed) of a grid: one lock file per run, held while it runs.

Several workers share one grid: the processes of ``vitkit reproduce --workers N``, the ranks of
``torchrun ... vitkit reproduce``, or two ``vitkit reproduce`` started on the same folder by hand. A
worker runs a run only while it holds that run's claim, an exclusive ``flock`` on
``OUT/.claims/<run>/s<seed>.lock``. The kernel releases the lock when its holder dies (even by kill -9),
so a run whose worker died is free for the next worker, which resumes it from its last checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

CLAIMS_DIR = ".claims"


def claim_path(out: Path, run_name: str, seed: int) -> Path:
    return out / CLAIMS_DIR / run_name / f"s{seed}.lock"


@contextmanager
def claim(path: Path) -> Iterator[bool]:
    """Hold the claim at ``path`` for the ``with`` block if nobody holds it: yields True, or False (held)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
