"""``vitkit convert SRC DST [--to FORMAT]``: any supported checkpoint -> vitkit, timm, Hugging Face or official .npz."""

from __future__ import annotations

import argparse

from .types import positive_int

HELP = "convert any supported checkpoint to vitkit, timm, Hugging Face or official .npz"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="official .npz, timm .safetensors/.pth/.bin, Hugging Face folder, vitkit file")
    p.add_argument("dst", help="output: .safetensors (vitkit), .npz (official), .pth (timm) or a folder (Hugging Face)")
    p.add_argument(
        "--to",
        choices=["vitkit", "timm", "hf", "npz"],
        default=None,
        help="output format (default: from DST's suffix; timm .safetensors needs --to timm)",
    )
    p.add_argument(
        "--image-size", type=positive_int, default=None, help="resize position embeddings to this resolution"
    )
    p.add_argument("--num-classes", type=positive_int, default=None, help="replace the head by a zero-initialised one")
    p.add_argument("--drop-pre-logits", action="store_true", help="remove the pre-logits layer")
    p.add_argument("--resize", choices=["bilinear", "bicubic"], default="bilinear", help="position-embedding resize")
    p.add_argument("--num-heads", type=positive_int, default=None, help="heads, for timm files of a non-standard width")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load
    from ..checkpoint.write import infer_format, write

    fmt = args.to or infer_format(args.dst)  # before loading: a bad DST fails at once
    model = load(
        args.src,
        image_size=args.image_size,
        num_classes=args.num_classes,
        drop_pre_logits=args.drop_pre_logits,
        resize=args.resize,
        num_heads=args.num_heads,
    )
    write(model, args.dst, fmt)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"wrote {args.dst} ({fmt}): {params:,} parameters,"
        f" image size {model.config.image_size[0]}x{model.config.image_size[1]}"
    )
    return 0
