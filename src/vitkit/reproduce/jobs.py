"""One run of an experiment, through the library's own functions: ``train``, few-shot, inspect.

Each returns the run's metrics (a flat dict of numbers); ``top1`` is the run's accuracy whatever its
kind (test top-1 of a training run, few-shot accuracy of a probe).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from ..train import TrainSpec, train
from ..train.runlog import last_logged
from ..train.spec import CONFIG_FILE, route_sets
from .declaration import ExperimentError, RunDecl


def execute(run: RunDecl, folder: Path, seed: int, parent: Path | None, device: str | None) -> dict[str, Any]:
    """Run ``run`` in ``folder`` (``parent``: the folder of its ``from`` run) and return its metrics."""
    t0 = time.perf_counter()
    if run.kind == "train":
        metrics = _train(run, folder, seed, parent, device)
    elif run.kind == "fewshot":
        metrics = _fewshot(run, seed, parent, device)
    else:
        metrics = _inspect(run, folder, parent, device)
    return {**metrics, "seconds": round(time.perf_counter() - t0, 1)}


def train_spec(run: RunDecl, folder: Path, seed: int, parent: Path | None, device: str | None) -> TrainSpec:
    recipe, model_kw, transform_kw = route_sets(run.get("recipe", "pretrain"), dict(run.get("set", {})))
    return TrainSpec(
        out=str(folder),
        data=run.get("data"),
        test=run.get("test"),
        model=run.get("model"),
        init=str(parent) if parent else None,
        recipe=recipe,
        model_overrides=model_kw,
        transform_overrides=transform_kw,
        image_size=run.get("image_size"),
        seed=seed,
        device=device,
    )


_NOT_COMPARED = ("out", "device")  # where a run lives and what runs it do not make it another run


def _settings(spec: TrainSpec) -> dict[str, Any]:
    d = json.loads(json.dumps(spec.to_dict(), default=list))  # as config.json holds it
    return {k: v for k, v in d.items() if k not in _NOT_COMPARED}


def differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the settings that differ between two config.json dicts."""
    names = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            names += differences(x, y, f"{prefix}{k}.")
        elif x != y:
            names.append(f"{prefix}{k}")
    return names


def _train(run: RunDecl, folder: Path, seed: int, parent: Path | None, device: str | None) -> dict[str, Any]:
    spec = train_spec(run, folder, seed, parent, device)
    if (folder / CONFIG_FILE).is_file():  # a half-finished run: the same run, or refused (never mixed)
        differ = differences(_settings(TrainSpec.read(folder)), _settings(spec))
        if differ:
            raise ExperimentError(
                f"{folder} holds a run with other settings ({', '.join(differ[:3])}); expected this "
                f"experiment's {run.name!r} -- use another --out or remove that folder"
            )
    summary = train(spec, resume=True)  # a half-finished run goes on from its last checkpoint
    spec = TrainSpec.read(folder)
    metrics: dict[str, Any] = {
        "steps": summary["steps"],
        "train_flops": training_flops(folder, summary["steps"], spec.recipe.batch_size),
    }
    if "test_top1" in summary:
        metrics["top1"] = summary["test_top1"]
    if spec.recipe.objective == "mpp":
        metrics["mpp_top1"] = last_logged(folder, "mpp_top1")
    return metrics


def training_flops(folder: Path, steps: int, batch_size: int) -> float:
    """Training FLOPs as the paper's compute axis counts them: 3 x forward (forward + backward), 2 per MAC."""
    from ..checkpoint import load
    from ..models.flops import count_macs

    model = load(str(folder / "final.safetensors"))
    return 6.0 * count_macs(model.config) * steps * batch_size


def _fewshot(run: RunDecl, seed: int, parent: Path | None, device: str | None) -> dict[str, Any]:
    from ..checkpoint import load
    from ..data import open_dataset
    from ..runtime.device import pick_device
    from ..use.embed import embed_dataset
    from ..use.fewshot import run_fewshot
    from ..use.fewshot_model import pool_features

    model = load(str(parent), device=pick_device(device))
    pool, test = open_dataset(run.get("data")), open_dataset(run.get("test"))
    shots = int(run.get("shots"))
    train_x, train_y = pool_features(model, pool, [shots], [seed], 256)
    test_emb = embed_dataset(model, test, batch_size=256)
    result = run_fewshot(
        train_x, train_y, test_emb.embeddings, test_emb.labels, [shots], [seed], num_classes=len(pool.classes)
    )[shots]
    return {"top1": result["mean"], "l2": result["l2s"][0]}


def _inspect(run: RunDecl, folder: Path, parent: Path | None, device: str | None) -> dict[str, Any]:
    from ..checkpoint import load
    from ..data import TransformConfig, open_dataset
    from ..inspect import inspect_model
    from ..inspect.inputs import first_images, load_views

    model = load(str(parent)).eval()
    cfg = TransformConfig.from_dict(model.info.transform or {})
    sources = first_images(open_dataset(run.get("data")), int(run.get("num_images", 128)))
    images, views, _ = load_views(sources, cfg)
    report = inspect_model(model, images, folder, original_images=views)
    section = report["attention_distance"]
    per_head = section["per_head"]
    metrics: dict[str, Any] = {f"attn_dist_l{i}": statistics.fmean(heads) for i, heads in enumerate(per_head)}
    metrics["attn_dist_l0_max"], metrics["attn_dist_l0_min"] = max(per_head[0]), min(per_head[0])
    metrics["attn_dist_uniform"] = section["uniform"]
    for i, heads in enumerate(section["entropy_per_head"]):
        metrics[f"attn_entropy_l{i}"] = statistics.fmean(heads)
    for relation, value in report["position_similarity"].get("by_relation", {}).items():
        metrics[f"posemb_sim_{relation}"] = value
    return metrics
