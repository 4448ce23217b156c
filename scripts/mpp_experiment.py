"""Masked patch prediction (paper §4.6) against training from scratch, at the demo's scale.

Stages, all with the demo's small ViT (``vitkit.demo.DEMO_MODEL``: 4x4 patches, width 64, depth 4):

1. ``mpp``: self-supervised pre-training on Fashion-MNIST at 28 px (labels unused), with the demo's
   pre-training budget and recipe (epochs, batch, AdamW, warm-up), objective ``mpp``;
2. ``mpp_finetune``: that run fine-tuned on MNIST-5k at 40 px, with the demo's fine-tuning recipe
   (300 SGD steps, new zero head, position embeddings interpolated);
3. ``scratch``: the same architecture trained from scratch on MNIST-5k, same steps and batch (the demo's);
4. with ``--supervised``: the demo's supervised pre-training and fine-tuning, the paper's third point.

Fine-tuning and scratch runs repeat for every ``--seeds`` entry (pre-training once); the table gives
held-out MNIST-5k top-1 per seed and the mean. The paper's result for ViT-B/16 on ImageNet: MPP +2%
over scratch, 4% behind supervised pre-training.

    python scripts/mpp_experiment.py --out runs/mpp --seeds 0,1,2     # the measurement
    python scripts/mpp_experiment.py --out /tmp/mpp --quick            # a seconds-long pipeline check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

import vitkit.mkl_amd

# a program of its own, like the vitkit command: MKL's kernels chosen (vitkit/mkl_amd.py) before torch loads
vitkit.mkl_amd.enable()

from vitkit.demo import DemoConfig, _finetune_spec, _pretrain_spec, _scratch_spec  # noqa: E402
from vitkit.train import TrainSpec, train  # noqa: E402


def mpp_spec(c: DemoConfig, out: Path, lr: float | None) -> TrainSpec:
    """The demo's pre-training run with the masked-patch objective (no test set: nothing to classify)."""
    spec = _pretrain_spec(c, out)
    recipe = spec.recipe.replace(objective="mpp", **({"lr": lr} if lr else {}))
    return dataclasses.replace(spec, out=str(out / "mpp"), test=None, recipe=recipe)


def finetune_from(c: DemoConfig, out: Path, init: Path, name: str) -> TrainSpec:
    return dataclasses.replace(_finetune_spec(c, out), out=str(out / name), init=str(init))


def last_mpp_accuracy(run: Path, last: int = 5) -> float | None:
    """Mean masked-patch accuracy of the last ``last`` logged training batches."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    accs = [r["mpp_top1"] for r in rows if r.get("kind") == "train" and "mpp_top1" in r]
    return statistics.fmean(accs[-last:]) if accs else None


def timed_train(spec: TrainSpec) -> dict[str, Any]:
    t0 = time.perf_counter()
    summary = train(spec)
    return {**summary, "seconds": round(time.perf_counter() - t0, 1)}


def run(c: DemoConfig, seeds: list[int], supervised: bool, mpp_lr: float | None) -> dict[str, Any]:
    out = Path(c.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"config": dataclasses.asdict(c), "seeds": seeds, "mpp_lr": mpp_lr}
    pre = timed_train(mpp_spec(c, out, mpp_lr))
    results["mpp"] = {
        "seconds": pre["seconds"],
        "steps": pre["steps"],
        "train_mpp_top1": last_mpp_accuracy(out / "mpp"),
    }
    if supervised:
        results["supervised_pretrain"] = timed_train(_pretrain_spec(c, out))
    stages: dict[str, list[dict[str, Any]]] = {"mpp_finetune": [], "scratch": []}
    if supervised:
        stages["supervised_finetune"] = []
    for seed in seeds:
        cs = dataclasses.replace(c, seed=seed)
        specs = {
            "mpp_finetune": finetune_from(cs, out, out / "mpp", f"mpp_finetune_s{seed}"),
            "scratch": dataclasses.replace(_scratch_spec(cs, out), out=str(out / f"scratch_s{seed}")),
        }
        if supervised:
            specs["supervised_finetune"] = finetune_from(cs, out, out / "pretrain", f"supervised_finetune_s{seed}")
        for stage, spec in specs.items():
            stages[stage].append(timed_train(spec))
    for stage, runs in stages.items():
        tops = [r["test_top1"] for r in runs]
        results[stage] = {
            "test_top1": tops,
            "mean": statistics.fmean(tops),
            "std": statistics.pstdev(tops),
            "seconds": sum(r["seconds"] for r in runs),
        }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"MPP pre-training: {results['mpp']['steps']} steps, {results['mpp']['seconds']:.0f} s, "
        f"masked-patch accuracy (last batches) {results['mpp']['train_mpp_top1']:.3f}",
        f"{'MNIST-5k held-out top-1':<26} {'mean':>7} {'std':>7}  per seed",
    ]
    for stage in ("mpp_finetune", "scratch", "supervised_finetune"):
        if stage in results:
            r = results[stage]
            lines.append(
                f"{stage:<26} {r['mean']:>7.4f} {r['std']:>7.4f}  {' '.join(f'{t:.4f}' for t in r['test_top1'])}"
            )
    gain = results["mpp_finetune"]["mean"] - results["scratch"]["mean"]
    lines.append(f"MPP fine-tuned vs scratch: {gain:+.4f} top-1")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/mpp")
    p.add_argument("--seeds", default="0", help="fine-tuning/scratch seeds, comma-separated (default 0)")
    p.add_argument("--supervised", action="store_true", help="also the demo's supervised pre-training + fine-tuning")
    p.add_argument("--mpp-lr", type=float, default=None, help="MPP pre-training peak lr (default: the demo's)")
    p.add_argument("--pretrain-epochs", type=float, default=None)
    p.add_argument("--finetune-steps", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline, measures nothing")
    args = p.parse_args()
    c = DemoConfig.quick(args.out) if args.quick else DemoConfig(out=args.out)
    changes = {
        k: v
        for k, v in {
            "pretrain_epochs": args.pretrain_epochs,
            "finetune_steps": args.finetune_steps,
            "device": args.device,
        }.items()
        if v is not None
    }
    results = run(
        dataclasses.replace(c, **changes), [int(s) for s in args.seeds.split(",")], args.supervised, args.mpp_lr
    )
    print(table(results))
    print(f"results: {Path(args.out) / 'results.json'}")


if __name__ == "__main__":
    main()
