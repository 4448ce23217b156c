"""The paper's pipeline in miniature, on built-in data (``vitkit demo``, ``make demo``).

1. pre-train a small ViT on Fashion-MNIST (recipe ``pretrain``) and test it;
2. pre-train the same ViT on the same images by masked patch prediction (§4.6; labels unused), unless
   ``mpp=False``;
3. fine-tune each pre-trained model on MNIST-5k at a higher resolution (recipe ``finetune``: new
   zero-initialised head, position embeddings interpolated to the larger grid);
4. train the same architecture from scratch on MNIST-5k with the same budget (steps x batch), for
   comparison -- with the pre-training recipe (AdamW), which suits training from scratch better than SGD;
5. compare the fine-tuned models with scratch and with each other on the same held-out images, paired
   (``vitkit.use.compare``), over ``seeds`` seeds of fine-tuning and of scratch training (the pre-trained
   models are shared).

Every stage is an ordinary run folder under ``out``; a finished stage leaves ``stage.json`` there. Run the
demo again with the same settings and it goes on where it stopped: finished stages are read back, a stage
that was killed continues from its last checkpoint. A folder holding a run with other settings is refused
(use another ``--out``), never overwritten.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .errors import ConfigError
from .train import TrainSpec, get_recipe, train
from .train.runlog import last_logged
from .train.spec import CONFIG_FILE
from .use.compare import compare_seeds, sample_std
from .use.per_image import correct_per_image

STAGE_FILE = "stage.json"  # a finished stage's figures, in its run folder
TEST = "mnist-5k:test"  # the held-out 1,000 images fine-tuning and scratch are compared on
PRETRAINED = {"classify": "pretrain", "mpp": "pretrain-mpp"}  # run folder of each pre-training
FINETUNED = {"finetune": "pretrain", "finetune-mpp": "pretrain-mpp"}  # fine-tuning run -> its pre-training

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
    # 10x10 patches; seed 0, one thread: 0.948 at 40 px vs 0.939 at 32 px (supervised pre-training), and the
    # reproduction's `hires` (3 seeds) 0.948 vs 0.929 at 28 px; it costs 1.6x the steps' time of 32 px
    finetune_size: int = 40
    mpp: bool = True  # also pre-train by masked patch prediction and fine-tune that model (0.965 vs 0.948)
    seed: int = 0  # pre-training's seed and the first of the fine-tune / scratch seeds
    seeds: int = 2  # fine-tune and scratch runs with seeds seed, seed + 1, ... (the pre-trained model is shared)
    device: str | None = None

    def __post_init__(self) -> None:
        if self.seeds < 1:  # checked before the ten minutes of pre-training, not after
            raise ConfigError(f"demo --seeds: expected at least 1 fine-tune/scratch seed, got {self.seeds}")
        patch = DEMO_MODEL["patch_size"]
        if self.finetune_size < patch or self.finetune_size % patch:
            raise ConfigError(
                f"demo --finetune-size: expected a multiple of the {patch} px patch, got {self.finetune_size}"
            )

    @classmethod
    def quick(cls, out: str) -> DemoConfig:
        """A pipeline check in seconds (for tests), not a result."""
        return cls(out=out, pretrain_epochs=0.02, finetune_steps=6, pretrain_batch=64, finetune_batch=32, seeds=2)


def _pretrain_spec(c: DemoConfig, out: Path, objective: str = "classify") -> TrainSpec:
    """Supervised pre-training (tested on Fashion-MNIST test), or masked patch prediction on the same
    images with the same model and budget (``objective="mpp"``; labels unused, so nothing to test)."""
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
        objective=objective,
    )
    # clothes may be mirrored; random crops cost more accuracy than they buy in three epochs
    return TrainSpec(
        out=str(out / PRETRAINED[objective]),
        data="fashion-mnist:train",
        test="fashion-mnist:test" if objective == "classify" else None,
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


def _mnist_spec(c: DemoConfig, out: Path, seed: int, stage: str) -> TrainSpec:
    """A MNIST-5k run at ``finetune_size``: fine-tuning of a pre-trained model (``finetune``, ``finetune-mpp``:
    recipe ``finetune``), or the same architecture from scratch (``scratch``: recipe ``pretrain``)."""
    scratch = stage == "scratch"
    return TrainSpec(
        out=str(out / run_name(stage, c, seed)),
        data="mnist-5k:train",
        test=TEST,
        model="ViT-Ti/16" if scratch else None,
        init=None if scratch else str(out / FINETUNED[stage]),
        recipe=_mnist_recipe(c, "pretrain" if scratch else "finetune"),
        model_overrides=DEMO_MODEL if scratch else {},
        image_size=c.finetune_size,
        seed=seed,
        device=c.device,
        transform_overrides={"train_crop": "none", "hflip": False},
    )


def _timed(spec: TrainSpec, resume: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    summary = train(spec, resume=resume)
    seconds = round(time.perf_counter() - t0, 1)
    if spec.recipe.objective == "mpp":  # no labels, no test: how well it predicts masked patches at the end
        return {
            "mpp_top1": last_logged(Path(summary["out"]), "mpp_top1"),
            "steps": summary["steps"],
            "seconds": seconds,
        }
    return {
        "test_top1": summary["test_top1"],
        "test_top5": summary["test_top5"],
        "steps": summary["steps"],
        "seconds": seconds,
        "run": summary["out"],
    }


_NOT_COMPARED = ("out", "device")  # where the run lives and what runs it do not make it another run


def _settings(spec: TrainSpec) -> dict[str, Any]:
    d = json.loads(json.dumps(spec.to_dict(), default=list))  # as config.json holds it
    return {k: v for k, v in d.items() if k not in _NOT_COMPARED}


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the settings that differ between two config.json dicts."""
    names = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            names += _differences(x, y, f"{prefix}{k}.")
        elif x != y:
            names.append(f"{prefix}{k}")
    return names


def run_stage(spec: TrainSpec) -> dict[str, Any]:
    """One stage: read back if finished, continued from its last checkpoint if started, else trained."""
    folder = Path(spec.out)
    if not (folder / CONFIG_FILE).is_file():
        result = _timed(spec)
    else:
        differ = _differences(_settings(TrainSpec.read(folder)), _settings(spec))
        if differ:
            raise ConfigError(
                f"demo --out: {folder} holds a run with other settings ({', '.join(differ[:3])}); "
                "expected this demo's run -- use another --out or remove that folder"
            )
        if (folder / STAGE_FILE).is_file():
            return json.loads((folder / STAGE_FILE).read_text())
        result = _timed(spec, resume=True)
    write_atomic(folder / STAGE_FILE, lambda f: f.write(json.dumps(result, indent=1).encode()))
    return result


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


def pretrainings(c: DemoConfig) -> list[str]:
    """The pre-training objectives the demo runs: supervised, and masked patch prediction unless ``mpp=False``."""
    return ["classify", *(["mpp"] if c.mpp else [])]


def stages(c: DemoConfig) -> list[str]:
    """The MNIST-5k runs, each over the seeds: fine-tuning of each pre-training, and scratch."""
    return ["finetune", *(["finetune-mpp"] if c.mpp else []), "scratch"]


def comparisons(c: DemoConfig) -> list[tuple[str, str]]:
    """The paired comparisons (a, b): each fine-tuning against scratch, then MPP against supervised."""
    pairs = [("finetune", "scratch")]
    return pairs + [("finetune-mpp", "scratch"), ("finetune-mpp", "finetune")] if c.mpp else pairs


def key(stage: str) -> str:
    """The results.json key of a stage or run folder name (``finetune-mpp`` -> ``finetune_mpp``)."""
    return stage.replace("-", "_")


def run_demo(c: DemoConfig) -> dict[str, Any]:
    """Run the stages and the paired comparisons; writes ``results.json`` under ``c.out`` and returns it."""
    out = Path(c.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict[str, Any] = {}
    for objective in pretrainings(c):
        results[key(PRETRAINED[objective])] = run_stage(_pretrain_spec(c, out, objective))
    seeds = [c.seed + i for i in range(c.seeds)]
    for stage in stages(c):
        results[key(stage)] = _seed_runs([run_stage(_mnist_spec(c, out, s, stage)) for s in seeds], seeds)
    t0 = time.perf_counter()
    correct = {s: [correct_per_image(r, TEST) for r in results[key(s)]["runs"]] for s in stages(c)}
    for a, b in comparisons(c):
        results[f"{key(a)}_vs_{key(b)}"] = compare_seeds(correct[a], correct[b])
    results["comparison_seconds"] = round(time.perf_counter() - t0, 1)
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["config"] = dataclasses.asdict(c) | {"model": DEMO_MODEL}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


WHAT = {
    "pretrain": "Fashion-MNIST test",
    "pretrain-mpp": "masked patches",
    "finetune": "MNIST-5k held-out",
    "finetune-mpp": "MNIST-5k held-out",
    "scratch": "MNIST-5k held-out",
}
NAMES = {"finetune": "fine-tuning", "finetune-mpp": "MPP fine-tuning", "scratch": "scratch"}


def results_table(results: dict[str, Any]) -> str:
    c = DemoConfig(**{k: v for k, v in results["config"].items() if k != "model"})
    rows = [*(PRETRAINED[objective] for objective in pretrainings(c)), *stages(c)]
    head = f"{'stage':<13} {'evaluated on':<19} {'top-1':>7} {'top-5':>7} {'steps':>6} {'seconds':>8}"
    lines = [f"{head}  top-1 per seed (top-1, top-5: mean over seeds; seconds: all seeds)"]
    for stage in rows:
        r = results[key(stage)]
        if "mpp_top1" in r:  # masked-patch accuracy of the last logged training batches; no top-5
            top1, top5 = f"{r['mpp_top1']:>7.4f}", f"{'-':>7}"
        else:
            top1 = f"{r.get('test_top1_mean', r['test_top1']):>7.4f}"
            top5 = f"{r.get('test_top5_mean', r['test_top5']):>7.4f}"
        per_seed = " ".join(f"{t:.4f}" for t in r.get("test_top1_per_seed", []))
        lines.append(
            f"{stage:<13} {WHAT[stage]:<19} {top1} {top5} {r['steps']:>6} {r['seconds']:>8.1f}  {per_seed}".rstrip()
        )
    for a, b in comparisons(c):
        lines.append(comparison_summary(results[f"{key(a)}_vs_{key(b)}"], f"{NAMES[a]} vs {NAMES[b]}"))
    lines.append(f"total {results['seconds']:.0f} s")
    return "\n".join(lines)


def comparison_summary(cmp: dict[str, Any], title: str = "fine-tuning vs scratch") -> str:
    """The printed lines of one paired comparison (top-1 mean over seeds, paired difference)."""
    a, b, k = cmp["a"], cmp["b"], cmp["a"]["seeds"]
    spread = "" if a["std"] is None else f" (std over seeds {a['std']:.4f} / {b['std']:.4f})"
    discordant = ", ".join(f"b={p['only_a']} c={p['only_b']} p={p['p_mcnemar']:.3g}" for p in cmp["per_seed"])
    lo, hi, n = *cmp["ci95"], cmp["per_seed"][0]["n"]
    return (
        f"{title}: top-1 {a['mean']:.4f} vs {b['mean']:.4f}, mean of {k} seed(s){spread}\n"
        f"  paired difference {cmp['diff']:+.4f} +- {cmp['se']:.4f} (SE over {n} held-out images), "
        f"95% interval [{lo:+.4f}, {hi:+.4f}], p = {cmp['p']:.2g}\n"
        f"  per seed, images only the first / only the second got right and McNemar's exact p: {discordant}"
    )
