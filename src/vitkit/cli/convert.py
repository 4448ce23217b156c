"""``vitkit convert SRC DST``: any supported checkpoint -> vitkit safetensors (config in the metadata)."""

from __future__ import annotations

import argparse

HELP = "convert any supported checkpoint to vitkit safetensors"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="official .npz, timm .safetensors/.pth/.bin, Hugging Face folder, vitkit file")
    p.add_argument("dst", help="output .safetensors path")
    p.add_argument("--image-size", type=int, default=None, help="resize position embeddings to this resolution")
    p.add_argument("--num-classes", type=int, default=None, help="replace the head by a zero-initialised one")
    p.add_argument("--drop-pre-logits", action="store_true", help="remove the pre-logits layer")
    p.add_argument("--resize", choices=["bilinear", "bicubic"], default="bilinear", help="position-embedding resize")
    p.add_argument("--num-heads", type=int, default=None, help="heads, for timm files of a non-standard width")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load, save
    from ..config import ConfigError

    if not args.dst.endswith(".safetensors"):
        raise ConfigError(f"{args.dst}: the output must be a .safetensors path")
    model = load(
        args.src,
        image_size=args.image_size,
        num_classes=args.num_classes,
        drop_pre_logits=args.drop_pre_logits,
        resize=args.resize,
        num_heads=args.num_heads,
    )
    save(model, args.dst)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"wrote {args.dst}: {params:,} parameters, image size {model.config.image_size[0]}x{model.config.image_size[1]}"
    )
    return 0
