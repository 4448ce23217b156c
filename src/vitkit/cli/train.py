"""``vitkit train MODEL`` and ``vitkit finetune CKPT``: the paper's pre-train -> transfer pipeline."""

from __future__ import annotations

import argparse
import json

from .types import nonnegative_int, positive_float, positive_int

HELP = "train a registered model from scratch (recipe 'pretrain')"


def add_common(p: argparse.ArgumentParser, recipe: str) -> None:
    p.add_argument(
        "--data",
        required=True,
        help="training data: folder, .csv/.jsonl manifest, shards-{000..009}.tar, or fashion-mnist[:train]",
    )
    p.add_argument("--val", default=None, help="validation data (evaluated every epoch; best.safetensors kept)")
    p.add_argument("--test", default=None, help="test data, evaluated once at the end")
    p.add_argument("--out", required=True, help="run folder (config, metrics.jsonl, TensorBoard, last/best/final)")
    p.add_argument("--recipe", default=recipe, help=f"named preset (default {recipe}): pretrain | finetune")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=positive_int, default=None, help="optimizer steps")
    g.add_argument("--epochs", type=positive_float, default=None, help="passes over the training data")
    p.add_argument(
        "--batch-size", type=positive_int, default=None, help="global batch size (all processes, all micro-batches)"
    )
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate")
    p.add_argument("--image-size", type=positive_int, default=None, help="training resolution")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--fsdp", action="store_true", help="shard with FSDP under torchrun (default: DDP)")
    p.add_argument("--objective", choices=["classify", "mpp"], default=None, help="mpp: masked patch prediction (§4.6)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any model/recipe/transform option, repeatable")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a variant name, e.g. ViT-B/16 (see `vitkit models`)")
    add_common(p, "pretrain")


def build_spec(args: argparse.Namespace, *, model: str | None, init: str | None):
    from ..train.recipes import parse_sets
    from ..train.spec import TrainSpec, route_sets

    recipe_kw = {
        k: v
        for k, v in {
            "steps": args.steps,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "objective": args.objective,
        }.items()
        if v is not None
    }
    if args.epochs is not None:
        recipe_kw.update(epochs=args.epochs, steps=None)
    elif args.steps is not None:
        recipe_kw["epochs"] = None
    recipe, model_kw, transform_kw = route_sets(args.recipe, parse_sets(args.set), recipe_kw)
    return TrainSpec(
        out=args.out,
        data=args.data,
        model=model,
        init=init,
        val=args.val,
        test=args.test,
        recipe=recipe,
        model_overrides=model_kw,
        transform_overrides=transform_kw,
        image_size=args.image_size,
        seed=args.seed,
        device=args.device,
        fsdp=args.fsdp,
    )


def run(args: argparse.Namespace) -> int:
    from ..train import train
    from ..train.distributed import teardown

    try:
        summary = train(build_spec(args, model=args.model, init=None), resume=args.resume)
    finally:
        teardown()  # the process group torchrun's processes joined: destroyed before they exit
    print(json.dumps(summary))
    return 0
