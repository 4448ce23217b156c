"""``vitkit inspect CKPT --images IMG... --out DIR``: the paper's §7 figures (filters, position
similarity, mean attention distance, attention rollout) for a ViT checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .types import positive_int

HELP = "inspect a ViT: embedding filters, position-embedding similarity, attention distance, attention rollout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    p.add_argument("checkpoint", help="a ViT checkpoint or run folder")
    src.add_argument("--images", nargs="+", metavar="IMG", help="image files")
    src.add_argument("--data", help="data spec; its first --num-images images are used")
    p.add_argument("--num-images", type=positive_int, default=128, help="with --data (the paper averaged over 128)")
    p.add_argument("--out", required=True, help="folder for the PNGs and inspect.json")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--device", default=None)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import CheckpointError, load
    from ..data import DataError, load_image, open_dataset
    from ..inspect import inspect_model
    from ..inspect.inputs import first_images, inputs_summary, load_views
    from ..models.transform import transform_for
    from ..models.vit import VisionTransformer
    from ..runtime.device import pick_device

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
        sources, source = first_images(data, args.num_images), args.data
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
