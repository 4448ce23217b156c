"""One job per output folder: an advisory ``flock`` on ``<folder>/.lock``, held by rank 0 for the job's life.

A kernel lock, not a lock file's existence: a job killed with ``kill -9`` (or a machine that reboots)
leaves no stale lock behind, so the restarted job resumes instead of being refused. The file holds the
holder's host and pid, only to name it in the refusal. On network file systems ``flock`` is as good as
the file system makes it (NFSv4 maps it to byte-range locks).
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from .errors import CollectionError

LOCK_FILE = ".lock"


class FolderLock:
    """``acquire()`` or a CollectionError naming the holder; ``release()`` (or process exit) frees it."""

    def __init__(self, folder: str | os.PathLike[str], what: str = "vitkit") -> None:
        self.folder, self.what = Path(folder), what
        self.path = self.folder / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> FolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise CollectionError(
                f"{self.folder}: in use by another job ({holder}); wait for it to finish or write elsewhere"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{self.what} pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
