"""Image embeddings: the representation y of every image of a data set (the pre-logits, paper eq. 4),
kept with where each image came from, its label and the class names.

``embed_dataset`` embeds in memory; ``embed_to_file`` writes a file and survives interruption: it embeds
``chunk_size`` images at a time into ``<out>.partial/`` (one ``chunk_00000.npz`` per chunk, then
``progress.json``, each written atomically), skips the chunks found there on a rerun of the same job,
and assembles the output file atomically at the end (then removes the folder). A partial folder left by
a different job (another checkpoint, data set, transform or chunk size) is discarded.

The file (``Embeddings``, ``.npz`` or Parquet) is ``use.embeddings_file``'s; reading one back, or a folder of
parts, is ``vitkit.collection.read.load_embeddings``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import write_atomic
from ..data import DataError, LabeledDataset, TransformConfig, WebDataset, make_loader
from ..data.samples import dataset_paths
from ..models.info import ImageModel
from ..models.transform import transform_for
from .embeddings_file import Embeddings, Format, _pyarrow, format_for, l2_normalize

CHUNK_SIZE = 4096  # images per chunk of a resumable run
PROGRESS_FILE = "progress.json"


def _progress_bar(total: int, initial: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    disable = (not sys.stderr.isatty()) if enabled is None else not enabled
    return tqdm(total=total, initial=initial, unit="img", dynamic_ncols=True, disable=disable, desc="embed")


@torch.inference_mode()
def embed_batch(model: ImageModel, images: torch.Tensor, normalize: bool = False) -> np.ndarray:
    """The representation y of a batch of prepared images, float32 (N, D); of unit L2 norm with ``normalize``.
    Every path that embeds (``embed_dataset``, a collection job, ``vitkit.use.ray``) computes it here."""
    emb = model.embed(images).float().cpu().numpy()  # every model kind declares embed (models.info.ImageModel)
    return l2_normalize(emb) if normalize else emb


def _embedded_batches(
    model: ImageModel, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for images, labels in batches:
        yield embed_batch(model, images.to(device)), labels.numpy()


def _loader(dataset: LabeledDataset, transform: TransformConfig, batch_size: int, start: int, num_workers: int) -> Any:
    # shards read by several workers interleave their samples: one reader keeps the describe() order
    workers = 0 if isinstance(dataset, WebDataset) else num_workers
    return make_loader(dataset, transform, batch_size, train=False, num_workers=workers, start_index=start)


def _model_device(model: ImageModel) -> torch.device:
    from .predict import model_device  # a torch model, or an OnnxRunner

    return model_device(model)


def embed_dataset(
    model: ImageModel,
    dataset: LabeledDataset,
    transform: TransformConfig | None = None,
    *,
    batch_size: int = 256,
    num_workers: int = 0,
    progress: bool | None = None,
) -> Embeddings:
    """Embed every image of ``dataset`` in order, in memory (``transform``: the checkpoint's by default)."""
    transform = transform or transform_for(model)
    model.eval()
    n = len(dataset)
    rows, labels = [], []
    with _progress_bar(n, 0, progress) as bar:
        batches = _loader(dataset, transform, batch_size, 0, num_workers)
        for emb, lab in _embedded_batches(model, batches, _model_device(model)):
            rows.append(emb)
            labels.append(lab)
            bar.update(len(emb))
    emb = np.concatenate(rows) if rows else np.zeros((0, _embed_dim(model)), np.float32)
    if len(emb) != n:
        raise DataError(f"{n} images in the data set but {len(emb)} embedded (undecodable images skipped?)")
    return Embeddings(emb, dataset_paths(dataset), np.concatenate(labels) if labels else None, list(dataset.classes))


def embed_images(
    model: ImageModel,
    paths: Sequence[str | os.PathLike[str]],
    transform: TransformConfig | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Embeddings ``(N, D)`` float32 of image files, with the checkpoint's eval transform by default."""
    from ..data import build_transform, load_image

    per_image = build_transform(transform or transform_for(model), train=False)
    model.eval()
    rows = []
    for start in range(0, len(paths), batch_size):
        x = torch.stack([per_image(load_image(p)) for p in paths[start : start + batch_size]])
        rows += [emb for emb, _ in _embedded_batches(model, [(x, torch.zeros(len(x)))], _model_device(model))]
    return np.concatenate(rows) if rows else np.zeros((0, _embed_dim(model)), np.float32)


def _embed_dim(model: ImageModel) -> int:
    return int(model.config.embed_dim)


# ------------------------------------------------------------------------------ resumable to a file


def partial_dir(out: str | os.PathLike[str]) -> Path:
    """Where ``embed_to_file`` keeps finished chunks until the output is assembled."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"chunk_{index:05d}.npz"


def _done_chunks(folder: Path, job: dict[str, Any]) -> int:
    """Chunks already embedded for ``job`` in ``folder``; a folder of another job is emptied."""
    progress = folder / PROGRESS_FILE
    if progress.is_file():
        try:
            state = json.loads(progress.read_text())
        except (OSError, ValueError):
            state = {}
        done = int(state.get("done", 0)) if state.get("job") == job else 0
        if done and all(_chunk_path(folder, i).is_file() for i in range(done)):
            return done
        print(f"embed: discarding {folder} (left by a different job)", file=sys.stderr)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return 0


def _save_chunk(folder: Path, index: int, job: dict[str, Any], emb: np.ndarray, labels: np.ndarray) -> None:
    write_atomic(_chunk_path(folder, index), lambda f: np.savez(f, embeddings=emb, labels=labels))
    state = json.dumps({"job": job, "done": index + 1}, indent=1).encode()
    write_atomic(folder / PROGRESS_FILE, lambda f: f.write(state))  # only after the chunk is whole


def embed_to_file(
    model: ImageModel,
    dataset: LabeledDataset,
    out: str | os.PathLike[str],
    *,
    transform: TransformConfig | None = None,
    batch_size: int = 256,
    chunk_size: int = CHUNK_SIZE,
    normalize: bool = False,
    format: Format | None = None,
    num_workers: int = 0,
    progress: bool | None = None,
    job: dict[str, Any] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Embeddings:
    """Embed ``dataset`` into ``out`` resumably (see the module docstring); returns what was written.

    ``job``: JSON-able facts that identify the work (the CLI passes the checkpoint file and its
    modification time, the data spec); chunks of a partial folder are reused only for the same job,
    data size, transform and chunk size. ``on_chunk(i)`` is called after chunk ``i`` is safely on disk.
    ``normalize`` scales the assembled rows to unit L2 norm (chunks keep the raw embeddings).
    """
    if chunk_size <= 0 or batch_size <= 0:
        raise DataError(f"chunk_size and batch_size: expected positive ints, got {chunk_size}, {batch_size}")
    if (format or format_for(out)) == "parquet":
        _pyarrow()  # fail before the work, not after it
    transform = transform or transform_for(model)
    model.eval()
    n = len(dataset)
    num_chunks = -(-n // chunk_size)
    identity = {**(job or {}), "num_images": n, "chunk_size": chunk_size, "transform": transform.to_dict()}
    folder = partial_dir(out)
    done = _done_chunks(folder, identity)
    if done:
        print(f"embed: resuming, {done} of {num_chunks} chunks done in {folder}", file=sys.stderr)
    if done < num_chunks:
        _embed_chunks(
            model, dataset, transform, folder, identity, done, chunk_size, batch_size, num_workers, progress, on_chunk
        )
    result = _assemble(folder, num_chunks, dataset, {**(job or {}), "normalized": normalize})
    if normalize:
        result = result.normalized()
    result.save(out, format)
    shutil.rmtree(folder)
    return result


def _embed_chunks(
    model: ImageModel,
    dataset: LabeledDataset,
    transform: TransformConfig,
    folder: Path,
    identity: dict[str, Any],
    first: int,
    chunk_size: int,
    batch_size: int,
    num_workers: int,
    progress: bool | None,
    on_chunk: Callable[[int], None] | None,
) -> None:
    """Embed chunks ``first, first + 1, ...`` in order, each saved as soon as its rows are in."""
    n = len(dataset)
    num_chunks = -(-n // chunk_size)
    batches = _loader(dataset, transform, batch_size, first * chunk_size, num_workers)
    pending: list[tuple[np.ndarray, np.ndarray]] = []  # embedded rows not yet in a chunk, with labels
    chunk = first
    with _progress_bar(n, first * chunk_size, progress) as bar:
        for emb, lab in _embedded_batches(model, batches, _model_device(model)):
            pending.append((emb, lab))
            bar.update(len(emb))
            size = min(chunk_size, n - chunk * chunk_size)
            while chunk < num_chunks and sum(len(e) for e, _ in pending) >= size:
                emb_all, lab_all = (np.concatenate(parts) for parts in zip(*pending))
                _save_chunk(folder, chunk, identity, emb_all[:size], lab_all[:size])
                pending = [(emb_all[size:], lab_all[size:])]
                if on_chunk is not None:
                    on_chunk(chunk)
                chunk += 1
                size = min(chunk_size, n - chunk * chunk_size)
    if chunk < num_chunks:
        got = chunk * chunk_size + sum(len(e) for e, _ in pending)
        raise DataError(f"{n} images in the data set but only {got} embedded (undecodable images skipped?)")


def _assemble(folder: Path, num_chunks: int, dataset: LabeledDataset, meta: dict[str, Any]) -> Embeddings:
    rows, labels = [], []
    for i in range(num_chunks):
        with np.load(_chunk_path(folder, i), allow_pickle=False) as z:
            rows.append(z["embeddings"])
            labels.append(z["labels"])
    emb = np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
    lab = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    return Embeddings(emb, dataset_paths(dataset), lab, list(dataset.classes), meta)


def embed_image_files(checkpoint: str, device: str | None, paths: list[str]) -> np.ndarray:
    """Embeddings (N, D) of image files with a checkpoint (loaded on this call)."""
    from ..checkpoint import load
    from ..runtime.device import pick_device

    return embed_images(load(checkpoint, device=pick_device(device)), paths)
