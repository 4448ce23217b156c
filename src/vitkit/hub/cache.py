"""Where fetched checkpoints live (``VITKIT_HOME``, default ``~/.cache/vitkit``) and what was recorded of them.

Each official file is cached under its bucket path (``official/vit_models/imagenet21k/ViT-B_16.npz``) with a
sidecar ``.sha256.json`` holding the sha256 and size seen the first time; a later download that differs is
refused. Hugging Face copies stay in huggingface_hub's own cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from ..atomic import write_atomic

CHUNK = 1 << 20


def home() -> Path:
    return Path(os.environ.get("VITKIT_HOME") or Path.home() / ".cache" / "vitkit").expanduser()


def offline() -> bool:
    """``VITKIT_OFFLINE=1`` or Hugging Face's ``HF_HUB_OFFLINE=1``: use the cache, never the network."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("VITKIT_OFFLINE", "HF_HUB_OFFLINE")
    )


def official_path(bucket_path: str) -> Path:
    return home() / "official" / bucket_path


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def recorded(path: Path) -> dict | None:
    """What was recorded of ``path`` the first time it was downloaded (sha256, size, mtime_ns), if anything."""
    try:
        return json.loads(sidecar(path).read_text())
    except (OSError, ValueError):
        return None


def record(path: Path, digest: str) -> None:
    st = path.stat()
    data = json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}).encode()
    write_atomic(sidecar(path), lambda f: f.write(data))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


UNITS = {"B": 0, "KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4}


def matches_listing(size: int, listed: str) -> bool:
    """Whether ``size`` bytes is what a ``gsutil ls -lh`` listing shows as ``listed`` ("393.69 MiB", "1.14 GiB"):
    the value rounded to two decimals in its unit, as gsutil prints it (to ~0.01 MiB; ~10 MiB for GiB files)."""
    value, unit = listed.split()
    return f"{round(size / 1024 ** UNITS[unit], 2):g}" == value


def size_problem(size: int, expected: dict | None) -> str | None:
    """Why a file of ``size`` bytes is not the expected one (``expected``: the registry's ``size`` in bytes or its
    ``listed_size`` from the official listing), or None."""
    expected = expected or {}
    if expected.get("size") is not None and size != expected["size"]:
        return f"{size} bytes, the registry says {expected['size']}"
    listed = expected.get("listed_size")
    if listed and not matches_listing(size, listed):
        return f"{size} bytes, the official listing says {listed}"
    return None


def tail_problem(path: Path, suffix: str | None = None) -> str | None:
    """An ``.npz`` (a zip that ``np.savez`` wrote: no archive comment) ends with its end-of-central-directory
    record; bytes after it mean a padded or spliced file. Other files (by ``suffix``, else the path's): None."""
    if (suffix or path.suffix).lower() != ".npz":
        return None
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 22:
            return "too short for an .npz"
        f.seek(-22, os.SEEK_END)
        tail = f.read(22)
    if not (tail.startswith(b"PK\x05\x06") and tail[-2:] == b"\x00\x00"):
        return "does not end where an .npz ends (padded, truncated or spliced)"
    return None


def problem(path: Path, expected: dict | None = None) -> str | None:
    """Why the cached ``path`` is not the file to use, or None (then its record is up to date).

    Checked: the size against the registry (``expected``: ``size``, ``listed_size``, ``sha256``) and against what
    was recorded at its download, and the sha256 against the registry's or the recorded one (hashed only when the
    file's size or mtime moved since the record, or when nothing was recorded: a file put there by hand).
    """
    if not path.is_file():
        return "not cached"
    expected = expected or {}
    rec = recorded(path)
    st = path.stat()
    if why := size_problem(st.st_size, expected):
        return why
    if rec is not None and st.st_size != rec.get("size"):
        return f"{st.st_size} bytes, {rec.get('size')} when it was downloaded"
    if why := tail_problem(path):
        return why
    want = expected.get("sha256")
    if rec is not None and st.st_mtime_ns == rec.get("mtime_ns") and want in (None, rec.get("sha256")):
        return None
    digest = sha256_of(path)
    if want and digest != want:
        return f"sha256 {digest} differs from the registry's {want}"
    if rec is not None and digest != rec.get("sha256"):
        return f"sha256 {digest} differs from the one recorded at its download, {rec.get('sha256')}"
    record(path, digest)  # first seen (put there by hand), or touched with the same bytes
    return None


def hub_blob_problem(path: Path) -> str | None:
    """huggingface_hub stores each large (LFS) file as ``blobs/<its sha256>``: a cached copy whose bytes do not hash
    to that name was truncated, padded or replaced. Small git files (named by a sha1) and other layouts: None.

    A file once hashed is remembered by size and mtime under ``VITKIT_HOME/hub-verified`` (the Hugging Face cache
    itself is not written to), so a large file is hashed once, not at every load.
    """
    blob = path.resolve()
    if not re.fullmatch(r"[0-9a-f]{64}", blob.name) or not blob.is_file():
        return None
    st = blob.stat()
    mark = home() / "hub-verified" / blob.name
    try:
        if json.loads(mark.read_text()) == [st.st_size, st.st_mtime_ns]:
            return None
    except (OSError, ValueError):
        pass
    digest = sha256_of(blob)
    if digest != blob.name:
        return f"sha256 {digest} differs from the Hub's, {blob.name} (the name it was stored under)"
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(mark, lambda f: f.write(json.dumps([st.st_size, st.st_mtime_ns]).encode()))
    except OSError:  # an unwritable VITKIT_HOME only costs hashing again next time
        pass
    return None
