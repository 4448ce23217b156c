"""Where fetched checkpoints live (``VITKIT_HOME``, default ``~/.cache/vitkit``) and what was recorded of them.

Each official file is cached under its bucket path (``official/vit_models/imagenet21k/ViT-B_16.npz``) with a
sidecar ``.sha256.json`` holding the sha256 and size seen the first time; a later download that differs is
refused. Hugging Face copies stay in huggingface_hub's own cache.
"""

from __future__ import annotations

import hashlib
import json
import os
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


def unchanged(path: Path) -> bool:
    """The cached file is the one recorded: same size and mtime, or (if touched) the same sha256."""
    rec = recorded(path)
    if rec is None or not path.is_file():
        return False
    st = path.stat()
    if st.st_size == rec.get("size") and st.st_mtime_ns == rec.get("mtime_ns"):
        return True
    return st.st_size == rec.get("size") and sha256_of(path) == rec.get("sha256")


def adopt(path: Path, sha256: str | None) -> bool:
    """Accept a file put into the cache by hand (no record yet): record its sha256, unless it differs from the
    registry's ``sha256``."""
    if not path.is_file() or recorded(path) is not None:
        return False
    digest = sha256_of(path)
    if sha256 and digest != sha256:
        return False
    record(path, digest)
    return True
