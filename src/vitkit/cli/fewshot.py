"""``vitkit fewshot CKPT --train DATA --test DATA``: few-shot linear accuracy of the frozen representation (§6)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .types import positive_int

HELP = "few-shot linear evaluation (closed-form ridge on frozen embeddings), mean ± std over seeds"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any checkpoint or run folder (ViT or BiT)")
    p.add_argument("--train", required=True, help="data the few shots are drawn from, e.g. fashion-mnist:train")
    p.add_argument("--test", required=True, help="data the probe is scored on, e.g. fashion-mnist:test")
    p.add_argument("--shots", default="1,5,10,25", help="examples per class, comma-separated (default 1,5,10,25)")
    p.add_argument("--seeds", type=positive_int, default=3, help="draws of the shots per count (default 3)")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--json", dest="json_out", default=None, help="also write the results as JSON to this path")
    p.add_argument("--device", default=None)


def parse_shots(text: str) -> list[int]:
    from ..errors import ConfigError

    try:
        shots = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--shots {text!r}: expected comma-separated positive ints, e.g. 1,5,10,25") from None
    if not shots or min(shots) < 1:
        raise ConfigError(f"--shots {text!r}: expected comma-separated positive ints, e.g. 1,5,10,25")
    return shots


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load
    from ..data import DataError, open_dataset
    from ..runtime.device import pick_device
    from ..use.fewshot_model import fewshot_of_model

    shots = parse_shots(args.shots)
    if args.seeds < 1:
        raise DataError(f"--seeds: expected a positive int, got {args.seeds}")
    model = load(args.checkpoint, device=pick_device(args.device))
    train, test = open_dataset(args.train), open_dataset(args.test)
    results = fewshot_of_model(model, train, test, shots, args.seeds, args.batch_size, (args.train, args.test))
    print(
        f"few-shot linear accuracy, {args.seeds} seed(s): {args.checkpoint} on {args.test} "
        f"(shots from {args.train}, {len(train.classes)} classes)"
    )
    print(f"{'shots':>5}  {'accuracy':>16}  per seed")
    for shot, r in results.items():
        per_seed = " ".join(f"{a:.4f}" for a in r["accs"])
        print(f"{shot:>5}  {r['mean']:.4f} ± {r['std']:.4f}  {per_seed}")
    if args.json_out:
        out = {
            "checkpoint": args.checkpoint,
            "train": args.train,
            "test": args.test,
            "seeds": args.seeds,
            "shots": {str(k): v for k, v in results.items()},
        }
        Path(args.json_out).write_text(json.dumps(out, indent=1))
    return 0
