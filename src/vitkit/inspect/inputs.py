"""The images ``vitkit inspect`` looks at: read, transformed as the checkpoint's eval transform does, with a
displayable copy and a note of every resize or crop, for the report."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import IterableDataset

from ..data import TransformConfig, build_transform
from ..data.transforms import eval_resize_size


def resize_note(size: tuple[int, int], cfg: TransformConfig) -> str | None:
    """How the eval transform changes an image of ``size`` (H, W): None when it is kept as is."""
    resized, final = eval_resize_size(*size, cfg), tuple(cfg.image_size)
    if tuple(size) == final:
        return None
    note = f"resized from {size[0]}x{size[1]} to {resized[0]}x{resized[1]}"
    return note if resized == final else f"{note}, centre-cropped to {final[0]}x{final[1]}"


def _size(image: Any) -> tuple[int, int]:
    """(H, W) of a PIL image or an image tensor."""
    return (
        (image.size[1], image.size[0])
        if hasattr(image, "size") and not callable(image.size)
        else tuple(image.shape[-2:])
    )


def first_images(data: Any, n: int) -> list[tuple[str, Any]]:
    """The first ``n`` images of a data set, as ``(description, image)`` (shards: in reading order)."""

    if isinstance(data, IterableDataset):
        out = []
        for i, (image, _) in enumerate(data):
            if i >= n:
                break
            out.append((data.describe(i), image))
        return out
    return [(data.describe(i), data[i][0]) for i in range(min(n, len(data)))]


def load_views(
    sources: list[tuple[str, Any]], cfg: TransformConfig
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, Any]]]:
    """``(images (B, C, h, w) transformed, displayable views (B, C, h, w) in [0, 1], per-image records)``."""
    transform = build_transform(cfg, train=False)
    images, records = [], []
    for name, image in sources:
        size = _size(image)
        images.append(transform(image))
        records.append({"image": name, "size": list(size), **({"note": n} if (n := resize_note(size, cfg)) else {})})
    x = torch.stack(images)
    mean, std = torch.tensor(cfg.mean).view(1, -1, 1, 1), torch.tensor(cfg.std).view(1, -1, 1, 1)
    return x, (x * std + mean).clamp(0, 1), records


def inputs_summary(records: list[dict[str, Any]], cfg: TransformConfig, source: str) -> dict[str, Any]:
    """The ``inputs`` section of inspect.json: what was inspected, and how the transform changed it."""
    counts: dict[str, int] = {}
    for r in records:
        if "note" in r:
            counts[r["note"]] = counts.get(r["note"], 0) + 1
    notes = [note if len(records) == 1 else f"{note} ({c} of {len(records)} images)" for note, c in counts.items()]
    return {
        "source": source,
        "num_images": len(records),
        "image_size": list(cfg.image_size),
        "notes": notes,
        "images": records,
    }
