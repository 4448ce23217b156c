"""A checkpoint's ONNX graph, exported once and kept, so the onnxruntime and openvino backends (and ``auto``,
which loads both) do not export it again on every call.

Exporting a ViT with ``torch.onnx.export`` takes seconds (ViT-Ti/16: ~4 s, ViT-B/16 longer on 2 cores),
paid before the first image by every ``vitkit predict/embed/eval/serve --backend onnxruntime|openvino``
on a checkpoint, twice when ``auto`` measures both. The graph depends only on the checkpoint file (its
absolute path or hub name and modification time), the output (logits or embedding) and the exporting
versions of torch and vitkit: that is the key. Files live in ``VITKIT_HOME/exports/`` (default
``~/.cache/vitkit``) as ``<key>.onnx``, written under a temporary name and renamed, so a killed export leaves
no half file; the ``KEEP`` most recently used stay, older ones are removed. ``VITKIT_EXPORT_CACHE=0``
exports into a temporary folder each time instead. ONNX files hold no code: reading one runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..runtime.versions import package_version

KEEP = 8  # graphs kept; a ViT-B/16 graph is ~330 MB
FOLDER = "exports"


def enabled() -> bool:
    return os.environ.get("VITKIT_EXPORT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def folder() -> Path:
    from ..hub.cache import home

    return home() / FOLDER


def key(checkpoint: str | os.PathLike[str], output: str) -> str:
    """The cache key of ``checkpoint``'s graph computing ``output``."""
    from ..checkpoint.identity import checkpoint_identity

    ident = {
        "file": checkpoint_identity(os.fspath(checkpoint)),
        "output": output,
        "versions": {n: package_version(n) for n in ("torch", "vitkit", "onnxscript")},
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


def _prune(where: Path, keep: int) -> None:
    files = sorted(where.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + ".data").unlink(missing_ok=True)


@contextmanager
def exported(checkpoint: str | os.PathLike[str], output: str, export: Callable[[Path], Path]) -> Iterator[Path]:
    """The ONNX file of ``checkpoint`` computing ``output``: from the cache, or made by ``export(dest)`` (and
    kept). Valid inside the ``with`` block (a temporary file when the cache is off or cannot be written)."""
    if enabled():
        where = folder()
        path = where / f"{key(checkpoint, output)}.onnx"
        if path.is_file():
            os.utime(path)  # most recently used
            yield path
            return
        try:
            where.mkdir(parents=True, exist_ok=True)
            staging = tempfile.TemporaryDirectory(dir=where, prefix=".export-")
        except OSError:  # a read-only cache: export into a temporary folder, as without the cache
            pass
        else:
            with staging as tmp:
                made = export(Path(tmp) / "model.onnx")
                if not made.with_name(made.name + ".data").exists():  # weights beside the graph: not kept
                    try:
                        os.replace(made, path)
                        made = path
                        _prune(where, KEEP)
                    except OSError:
                        pass
                yield made
            return
    with tempfile.TemporaryDirectory() as tmp:
        yield export(Path(tmp) / "model.onnx")
