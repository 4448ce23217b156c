"""``vitkit inspect CKPT --images IMG... --out DIR``: the paper's §7 figures (filters, position
similarity, mean attention distance, attention rollout) for a ViT checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "inspect a ViT: embedding filters, position-embedding similarity, attention distance, attention rollout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    p.add_argument("checkpoint", help="a ViT checkpoint or run folder")
    src.add_argument("--images", nargs="+", metavar="IMG", help="image files")
    src.add_argument("--data", help="data spec; its first --num-images images are used")
    p.add_argument("--num-images", type=int, default=128, help="with --data (the paper averaged over 128)")
    p.add_argument("--out", required=True, help="folder for the PNGs and inspect.json")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None)


def resize_note(size: tuple[int, int], cfg) -> str | None:
    """How the eval transform changes an image of ``size`` (H, W): None when it is kept as is."""
    from ..data.transforms import eval_resize_size

    resized, final = eval_resize_size(*size, cfg), tuple(cfg.image_size)
    if tuple(size) == final:
        return None
    note = f"resized from {size[0]}x{size[1]} to {resized[0]}x{resized[1]}"
    return note if resized == final else f"{note}, centre-cropped to {final[0]}x{final[1]}"


def _size(image) -> tuple[int, int]:
    return (
        (image.size[1], image.size[0])
        if hasattr(image, "size") and not callable(image.size)
        else tuple(image.shape[-2:])
    )


def _first_images(data, n: int) -> list[tuple[str, object]]:
    from torch.utils.data import IterableDataset

    if isinstance(data, IterableDataset):
        out = []
        for i, (image, _) in enumerate(data):
            if i >= n:
                break
            out.append((data.describe(i), image))
        return out
    return [(data.describe(i), data[i][0]) for i in range(min(n, len(data)))]


def load_views(sources: list[tuple[str, object]], cfg):
    """``(images (B, C, h, w) transformed, displayable views (B, C, h, w) in [0, 1], per-image records)``."""
    import torch

    from ..data import build_transform

    transform = build_transform(cfg, train=False)
    images, records = [], []
    for name, image in sources:
        size = _size(image)
        images.append(transform(image))
        records.append({"image": name, "size": list(size), **({"note": n} if (n := resize_note(size, cfg)) else {})})
    x = torch.stack(images)
    mean, std = torch.tensor(cfg.mean).view(1, -1, 1, 1), torch.tensor(cfg.std).view(1, -1, 1, 1)
    return x, (x * std + mean).clamp(0, 1), records


def inputs_summary(records: list[dict], cfg, source: str) -> dict:
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


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import CheckpointError, load
    from ..data import DataError, load_image, open_dataset
    from ..inspect import inspect_model
    from ..models.vit import VisionTransformer
    from ..predict import transform_for
    from ..train.loop import pick_device

    device = pick_device(args.device)
    model = load(args.checkpoint, device=device)
    if not isinstance(model, VisionTransformer):
        raise CheckpointError(
            args.checkpoint,
            "a BiT ResNet: no attention, position embeddings or patch projection to inspect (inspect needs a ViT)",
        )
    cfg = transform_for(model)
    if args.images:
        sources, source = [(p, load_image(p)) for p in args.images], "images"
    else:
        data = open_dataset(args.data)
        data.validate()
        if args.num_images < 1:
            raise DataError(f"--num-images: expected a positive int, got {args.num_images}")
        sources, source = _first_images(data, args.num_images), args.data
    images, views, records = load_views(sources, cfg)
    report = inspect_model(model, images.to(device), args.out, original_images=views, batch_size=args.batch_size)
    report["inputs"] = inputs_summary(records, cfg, source)
    out = Path(args.out)
    (out / "inspect.json").write_text(json.dumps(report, indent=1))
    for note in report["inputs"]["notes"]:
        print(f"note: {note}")
    for section in ("filters", "position_similarity", "attention_distance", "attention_rollout"):
        entry = report[section]
        print(f"{section:<20} {out / entry['file'] if 'file' in entry else 'skipped: ' + entry['skipped']}")
    layers = " ".join(f"{d:.1f}" for d in report["attention_distance"]["per_layer_mean"])
    print(f"mean attention distance per layer (pixels): {layers}")
    print(f"numbers: {out / 'inspect.json'}")
    return 0
