"""Checks of an experiment before anything runs: every run names a real variant, recipe, option and data set.

Nothing is loaded or trained: model configs are built (and so validated) from their fields alone,
recipes from their presets, data specs are parsed. A problem is one ``ExperimentError`` line naming
the file, the run and the field.
"""

from __future__ import annotations

from typing import Any

from ..data.builtin import BUILTIN, SPLITS, is_builtin
from ..data.subsets import split_subset
from ..errors import ConfigError
from ..models.variants import model_config
from ..train.spec import route_sets
from .declaration import COMPARE_FIELDS, FIGURE_KINDS, TARGET_FIELDS, Experiment, ExperimentError, RunDecl


def validate(exp: Experiment) -> None:
    """Raise ``ExperimentError`` at the first problem of ``exp``."""
    if not exp.runs:
        raise ExperimentError(f"{exp.source}: no [[run]] entries")
    seen: dict[str, RunDecl] = {}
    for run in exp.runs:
        label = f"{exp.source}: run {run.name!r}"
        try:
            _check_run(run, seen, label)
        except ExperimentError:
            raise
        except (ConfigError, TypeError, ValueError) as e:
            raise ExperimentError(f"{label}: {e}") from None
        seen[run.name] = run
    for fig in exp.figures:
        _check_figure(fig, exp)
    for entry in exp.comparisons:
        _check_compare(entry, exp)
    for entry in exp.targets:
        _check_target(entry, exp)


def _check_compare(entry: dict[str, Any], exp: Experiment) -> None:
    label = f"{exp.source}: compare {entry.get('a', '?')!r} vs {entry.get('b', '?')!r}"
    if set(entry) != COMPARE_FIELDS:
        raise ExperimentError(f"{label}: expected exactly the fields {', '.join(sorted(COMPARE_FIELDS))}")
    names = {r.name for r in exp.runs}
    for key in ("a", "b"):
        if entry[key] not in names:
            raise ExperimentError(f"{label}: {key} = {entry[key]!r} is not a run of this budget")
    check_data_spec(entry["on"], f"{label}: on")


def _check_target(entry: dict[str, Any], exp: Experiment) -> None:
    label = f"{exp.source}: target {entry}"
    unknown = sorted(set(entry) - TARGET_FIELDS)
    if unknown:
        raise ExperimentError(f"{label}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(TARGET_FIELDS))})")
    if "compare" in entry:
        pair = entry["compare"]
        if set(entry) != {"compare"} or not any([c["a"], c["b"]] == pair for c in exp.comparisons):
            raise ExperimentError(f"{label}: compare = [a, b] must name a [[compare]] entry, alone")
    elif set(entry) != {"run", "metric", "at_least"} or entry["run"] not in {r.name for r in exp.runs}:
        raise ExperimentError(f"{label}: expected run (a run of this budget), metric and at_least")
    elif not isinstance(entry["at_least"], (int, float)):
        raise ExperimentError(f"{label}: at_least must be a number")


def _check_run(run: RunDecl, seen: dict[str, RunDecl], label: str) -> None:
    parent = run.parent
    if parent is not None:
        if parent not in seen:
            raise ExperimentError(f"{label}: from = {parent!r} is not an earlier run")
        if run.seeded is False and seen[parent].seeded:
            raise ExperimentError(f"{label}: an unseeded run cannot start from the seeded run {parent!r}")
    for key in ("data", "test"):
        if run.get(key) is not None:
            check_data_spec(run.get(key), f"{label}: {key}")
    if run.kind == "train":
        _check_train(run, label)
    elif parent is None:
        raise ExperimentError(f"{label}: a {run.kind} run needs from = an earlier training run")
    elif run.get("data") is None:
        raise ExperimentError(f"{label}: a {run.kind} run needs data")
    if run.kind == "fewshot" and (not isinstance(run.get("shots"), int) or run.get("shots") < 1 or not run.get("test")):
        raise ExperimentError(f"{label}: a fewshot run needs shots = a positive int and test = a data spec")


def _check_train(run: RunDecl, label: str) -> None:
    if (run.get("model") is None) == (run.parent is None):
        raise ExperimentError(f"{label}: give exactly one of model (from scratch) or from (fine-tune a run)")
    if run.get("data") is None:
        raise ExperimentError(f"{label}: a train run needs data")
    recipe, model_kw, _ = route_sets(run.get("recipe", "pretrain"), dict(run.get("set", {})))
    if recipe.steps is None and recipe.epochs is None:
        raise ExperimentError(f"{label}: set steps or epochs")
    if run.get("model") is not None:
        size = run.get("image_size")
        model_config(run.get("model"), num_classes=10, **model_kw, **({"image_size": size} if size else {}))


def check_data_spec(spec: Any, label: str) -> None:
    """Built-in names with a known split and an optional ``@N``; other specs are taken as paths."""
    if not isinstance(spec, str) or not spec:
        raise ExperimentError(f"{label}: expected a data spec string, got {spec!r}")
    base, n = split_subset(spec)
    if n is not None and n < 1:
        raise ExperimentError(f"{label}: {spec!r}: @N must be positive")
    name, _, split = base.partition(":")
    if ":" in base and not is_builtin(base) and not base.startswith("pipe:"):
        raise ExperimentError(f"{label}: {spec!r}: unknown built-in {name!r} (known: {', '.join(BUILTIN)})")
    if is_builtin(base) and split and split not in SPLITS:
        raise ExperimentError(f"{label}: {spec!r}: unknown split {split!r} (known: {', '.join(SPLITS)})")


def _check_figure(fig: dict[str, Any], exp: Experiment) -> None:
    label = f"{exp.source}: figure {fig.get('file', '?')!r}"
    if fig.get("kind") not in FIGURE_KINDS:
        raise ExperimentError(f"{label}: kind {fig.get('kind')!r}: expected one of {', '.join(FIGURE_KINDS)}")
    if not str(fig.get("file", "")).endswith(".png"):
        raise ExperimentError(f"{label}: file must be a .png name")
    names = {r.name for r in exp.runs}
    wanted = fig.get("runs", []) + ([fig["run"]] if "run" in fig else [])
    missing = [n for n in wanted if n not in names]
    if missing:
        raise ExperimentError(f"{label}: no run named {missing[0]!r}")
    if fig["kind"] != "copy" and not isinstance(fig.get("metric"), str):
        raise ExperimentError(f"{label}: needs metric = a metric name")
