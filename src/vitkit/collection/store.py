"""The output folder of a collection job: one Parquet file per part, a manifest, the skipped images.

Layout of ``OUT/``::

    part-00000.parquet ...   one per part, rows in input order; the data set itself
    _manifest.json           written last: the parts in order, their row counts and offsets, totals
    _skipped.parquet         path and one-line reason of every image that could not be read
    _job.json                what made it (checkpoint, input digest, transform, part size ...)
    .lock                    held while a job writes here

Readers see one table: ``pyarrow.dataset.dataset(OUT)`` and ``pandas.read_parquet(OUT)`` skip names
starting with ``_`` and ``.``; DuckDB reads ``'OUT/part-*.parquet'``. Row ``i`` of the data set is the
``i``-th row in part order (offsets in the manifest).

A part is final only when its file exists: it is written to a temporary name and renamed (``vitkit.atomic``),
with its row count and the job's digest in the Parquet footer. A rerun trusts a part only when the footer
reads back with the same digest and that many rows; anything else (a missing file, a half-written
temporary left by ``kill -9``) is done again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_atomic
from .errors import CollectionError

MANIFEST = "_manifest.json"
JOB_FILE = "_job.json"
SKIPPED = "_skipped.parquet"
FORMAT_VERSION = 1


def pyarrow() -> Any:
    from ..use.embeddings_file import _pyarrow

    return _pyarrow()


def job_digest(identity: dict[str, Any]) -> str:
    """A short digest of the job's identity (canonical JSON)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def is_collection(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder a collection job wrote into (finished or not)."""
    p = Path(path)
    return p.is_dir() and ((p / MANIFEST).is_file() or (p / JOB_FILE).is_file())


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Store:
    """The folder ``OUT`` (see the module docstring) for one job ``identity``."""

    def __init__(self, folder: str | os.PathLike[str], identity: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.identity = identity
        self.digest = job_digest(identity)

    # -- before the work -------------------------------------------------------------------------

    def claim(self) -> None:
        """Make the folder this job's: refuse a folder of another job or a folder of other files; record the
        job; remove temporaries a killed writer left. Call with the folder lock held."""
        self.folder.mkdir(parents=True, exist_ok=True)
        job = self.folder / JOB_FILE
        if job.is_file():
            try:
                theirs = json.loads(job.read_text())
            except (OSError, ValueError):
                raise CollectionError(f"{job}: unreadable; remove {self.folder} or write elsewhere") from None
            if theirs.get("digest") != self.digest:
                raise CollectionError(self._difference(theirs.get("identity") or {}))
        else:
            others = [p.name for p in self.folder.iterdir() if p.name != ".lock"]
            if others:
                raise CollectionError(
                    f"{self.folder}: not empty and not a vitkit output folder (holds {others[0]}); write elsewhere"
                )
            body = json.dumps({"version": FORMAT_VERSION, "digest": self.digest, "identity": self.identity}, indent=1)
            write_atomic(job, lambda f: f.write(body.encode()))
        for tmp in self.folder.glob(".*.tmp"):  # vitkit.atomic's temporaries of a killed writer
            tmp.unlink(missing_ok=True)

    def _difference(self, theirs: dict[str, Any]) -> str:
        keys = list(self.identity) + [k for k in theirs if k not in self.identity]
        key = next((k for k in keys if theirs.get(k) != self.identity.get(k)), "job")
        return (
            f"{self.folder}: holds the output of a different job ({key} was {_short(theirs.get(key))}, "
            f"now {_short(self.identity.get(key))}); write elsewhere or delete it"
        )

    def finished(self) -> dict[str, Any] | None:
        """The manifest when this job already finished here."""
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return manifest if manifest.get("digest") == self.digest else None

    # -- parts -----------------------------------------------------------------------------------

    def part_path(self, index: int) -> Path:
        return self.folder / part_name(index)

    def part_info(self, index: int) -> dict[str, Any] | None:
        """The footer record of a finished part of this job (rows, skipped ...), None if it must be (re)done."""
        path = self.part_path(index)
        if not path.is_file():
            return None
        pa = pyarrow()
        try:
            md = pa.parquet.read_metadata(path)
            info = json.loads((md.metadata or {}).get(b"vitkit", b"{}"))
        except (OSError, ValueError, pa.ArrowException):
            return None
        ok = info.get("job") == self.digest and info.get("part") == index and info.get("rows") == md.num_rows
        return info if ok else None

    def write_part(
        self,
        index: int,
        columns: dict[str, np.ndarray | list],
        skipped: list[tuple[str, str]],
        extra: dict[str, Any],
    ) -> int:
        """Write part ``index`` atomically; its row count."""
        pa = pyarrow()
        arrays = {name: to_arrow(pa, value) for name, value in columns.items()}
        rows = len(next(iter(arrays.values()))) if arrays else 0
        info = {"part": index, "rows": rows, "job": self.digest, "skipped": [list(s) for s in skipped], **extra}
        table = pa.table(arrays).replace_schema_metadata({"vitkit": json.dumps(info)})
        write_atomic(self.part_path(index), lambda f: pa.parquet.write_table(table, f))
        return rows

    # -- after the work --------------------------------------------------------------------------

    def finish(self, num_parts: int, extra: dict[str, Any]) -> dict[str, Any]:
        """Check every part, write the skipped table and the manifest (last); the manifest."""
        pa = pyarrow()
        parts, skipped, offset = [], [], 0
        for i in range(num_parts):
            info = self.part_info(i)
            if info is None:
                raise CollectionError(f"{self.part_path(i)}: missing or incomplete; run the same command again")
            parts.append(
                {"file": part_name(i), "rows": info["rows"], "offset": offset, "skipped": len(info["skipped"])}
            )
            skipped += [(path, reason, i) for path, reason in info["skipped"]]
            offset += info["rows"]
        table = pa.table(
            {
                "path": pa.array([s[0] for s in skipped], pa.string()),
                "reason": pa.array([s[1] for s in skipped], pa.string()),
                "part": pa.array([s[2] for s in skipped], pa.int32()),
            }
        )
        write_atomic(self.folder / SKIPPED, lambda f: pa.parquet.write_table(table, f))
        manifest = {
            "version": FORMAT_VERSION,
            "digest": self.digest,
            "rows": offset,
            "skipped": len(skipped),
            "parts": parts,
            **extra,
        }
        body = json.dumps(manifest, indent=1).encode()
        write_atomic(self.folder / MANIFEST, lambda f: f.write(body))
        return manifest


def to_arrow(pa: Any, value: np.ndarray | list) -> Any:
    """A column: 1-D values as they are, 2-D rows as fixed-size lists (embeddings, top-k)."""
    if isinstance(value, list):
        return pa.array(value, pa.string())
    if value.ndim == 2:
        flat = pa.array(value.reshape(-1).tolist() if value.dtype.kind == "U" else value.reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, value.shape[1])
    return pa.array(value)


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a finished collection; a CollectionError for an unfinished or foreign folder."""
    folder = Path(folder)
    try:
        return json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        if (folder / JOB_FILE).is_file():
            raise CollectionError(f"{folder}: unfinished (no {MANIFEST}); run the same command again") from None
        raise CollectionError(f"{folder}: not a vitkit output folder (no {MANIFEST})") from None
    except (OSError, ValueError) as e:
        raise CollectionError(f"{folder / MANIFEST}: unreadable ({' '.join(str(e).split())})") from None


def read_table(folder: str | os.PathLike[str], columns: Iterable[str] | None = None) -> Any:
    """The whole data set as one pyarrow Table, parts in manifest order."""
    pa = pyarrow()
    folder = Path(folder)
    manifest = read_manifest(folder)
    tables = []
    for part in manifest["parts"]:
        try:
            tables.append(pa.parquet.read_table(folder / part["file"], columns=columns))
        except (OSError, pa.ArrowException) as e:
            raise CollectionError(f"{folder / part['file']}: unreadable ({' '.join(str(e).split())})") from None
        if len(tables[-1]) != part["rows"]:
            raise CollectionError(f"{folder / part['file']}: {len(tables[-1])} rows, the manifest says {part['rows']}")
    return pa.concat_tables(tables) if tables else None
