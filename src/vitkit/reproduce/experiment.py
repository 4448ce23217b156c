"""An experiment as data: one TOML file declares a grid of ordinary vitkit runs, their figures and table.

Top level: ``name``, ``title``, ``paper`` (section), ``claim`` (the paper's finding), ``metrics`` (the
table's columns), ``[templates.NAME]`` (shared run fields), ``[[run]]`` entries and ``[[figure]]`` entries.

A run: ``name``, ``kind`` (``train`` | ``fewshot`` | ``inspect``), ``use`` (a template merged under it),
``model`` (a variant: training from scratch) or ``from`` (an earlier run of the same seed: fine-tuning,
few-shot probing or inspecting it), ``data``, ``test``, ``recipe``, ``image_size``, ``set`` (``--set``
options: model, recipe and transform fields), ``shots``, ``num_images``, ``subset`` (train on the first N
images of ``data``: ``data@N``), ``group`` and ``x`` (for line figures), ``seeded = false`` (run once, with
seed 0, for every seed), ``budgets = ["full"]`` (run only at those budgets). ``vary = {key = [values...]}``
expands a run into the product of its values (``name`` is then a format string such as
``"{posemb}@{posemb_at}"``); a varied key that is not a run field goes into ``set``.
Any value can differ by budget: ``steps = {small = 300, full = 3000}``.

``[[compare]]`` entries (``a``, ``b``: run names; ``on``: a data spec) are paired comparisons: every seed of
``a`` against the same seed of ``b``, image by image on ``on`` (``reproduce.paired``). ``[[target]]`` entries
are the experiment's pass marks: ``run`` + ``metric`` + ``at_least`` (the mean over seeds), or ``compare =
[a, b]`` (that comparison's 95% interval above zero). Both go into the report with their verdicts.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .declaration import BUDGETS, KINDS, RUN_FIELDS, Experiment, ExperimentError, RunDecl
from .validate import validate

_NAME = re.compile(r"^[A-Za-z0-9_.@=+-]+$")


def builtin_dir() -> Path:
    return Path(str(resources.files("vitkit.reproduce") / "experiments"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def _closest(name: str, names: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, names, n=1, cutoff=0.0)
    return f"did you mean {near[0]!r}? " if near else ""


def find_experiment(name: str) -> Path:
    """A built-in experiment's file by name, or a path to a ``.toml`` file."""
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise ExperimentError(f"{name}: no such experiment file")
        return path
    names = builtin_names()
    if name not in names:
        raise ExperimentError(f"unknown experiment {name!r}: {_closest(name, names)}(known: {', '.join(names)})")
    return builtin_dir() / f"{name}.toml"


def load_experiment(name: str, budget: str = "small") -> Experiment:
    """Parse, expand and validate an experiment (built-in name or ``.toml`` path) for ``budget``."""
    if budget not in BUDGETS:
        raise ExperimentError(f"--budget {budget!r}: expected one of {', '.join(BUDGETS)}")
    path = find_experiment(name)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ExperimentError(f"{path}: not valid TOML ({e})") from None
    raw = _pick_budget(raw, budget)
    where = str(path)
    for key in ("name", "claim"):
        if not isinstance(raw.get(key), str):
            raise ExperimentError(f"{where}: expected a string {key!r} at the top level")
    runs = _expand_runs(raw.get("run", []), raw.get("templates", {}), where, budget)
    exp = Experiment(
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        paper=raw.get("paper", ""),
        claim=raw["claim"],
        metrics=list(raw.get("metrics", ["top1"])),
        runs=runs,
        figures=list(raw.get("figure", [])),
        comparisons=_in_budget(raw.get("compare", []), budget, f"{where}: compare"),
        targets=_in_budget(raw.get("target", []), budget, f"{where}: target"),
        budget=budget,
        source=where,
    )

    validate(exp)
    return exp


def _in_budget(entries: list[dict[str, Any]], budget: str, label: str) -> list[dict[str, Any]]:
    """The entries that apply at ``budget`` (all, unless an entry says ``budgets = [...]``), without that key."""
    kept = []
    for entry in entries:
        budgets = entry.get("budgets", list(BUDGETS))
        if not isinstance(budgets, list) or not set(budgets) <= set(BUDGETS):
            raise ExperimentError(f"{label} {entry}: budgets = {budgets!r}: expected a list of {', '.join(BUDGETS)}")
        if budget in budgets:
            kept.append({k: v for k, v in entry.items() if k != "budgets"})
    return kept


def _pick_budget(value: Any, budget: str) -> Any:
    """Replace every ``{small = a, full = b}`` table by the budget's value, recursively."""
    if isinstance(value, dict):
        if value and set(value) == set(BUDGETS):
            return _pick_budget(value[budget], budget)
        return {k: _pick_budget(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_pick_budget(v, budget) for v in value]
    return value


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _expand_runs(entries: list[dict[str, Any]], templates: dict[str, Any], where: str, budget: str) -> list[RunDecl]:
    runs: list[RunDecl] = []
    for i, entry in enumerate(entries):
        label = f"{where}: run {entry.get('name', i)!r}"
        unknown = sorted(set(entry) - RUN_FIELDS)
        if unknown:
            raise ExperimentError(f"{label}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(RUN_FIELDS))})")
        budgets = entry.get("budgets", list(BUDGETS))
        if not isinstance(budgets, list) or not set(budgets) <= set(BUDGETS):
            raise ExperimentError(f"{label}: budgets = {budgets!r}: expected a list of {', '.join(BUDGETS)}")
        if budget not in budgets:
            continue
        if "use" in entry and entry["use"] not in templates:
            raise ExperimentError(f"{label}: use = {entry['use']!r} is not a template ({', '.join(templates)})")
        merged = _merge(
            templates.get(entry.get("use"), {}), {k: v for k, v in entry.items() if k not in ("use", "budgets")}
        )
        for item in _vary(merged, label):
            runs.append(_decl(item, label))
    names = [r.name for r in runs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ExperimentError(f"{where}: two runs are named {dup!r}")
    return runs


def _vary(entry: dict[str, Any], label: str) -> list[dict[str, Any]]:
    vary = entry.pop("vary", None)
    if not vary:
        return [entry]
    keys = list(vary)
    out = []
    for values in itertools.product(*(vary[k] for k in keys)):
        item = {k: (dict(v) if isinstance(v, dict) else v) for k, v in entry.items()}
        item.setdefault("set", {})
        for key, value in zip(keys, values):
            if key in RUN_FIELDS:
                item[key] = value
            elif "." in key:  # a field of a nested option: resnet.width_factor
                outer, inner = key.split(".", 1)
                item["set"][outer] = {**item["set"].get(outer, {}), inner: value}
            else:
                item["set"][key] = value
        try:
            item["name"] = entry["name"].format(*values, **{k: v for k, v in zip(keys, values) if "." not in k})
        except (KeyError, IndexError):
            raise ExperimentError(
                f"{label}: name {entry['name']!r} must use only the varied keys {keys} (or {{0}}, {{1}}...)"
            ) from None
        out.append(item)
    return out


def _decl(item: dict[str, Any], label: str) -> RunDecl:
    name, kind = item.get("name"), item.get("kind", "train")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ExperimentError(f"{label}: name {name!r} must be letters, digits and _.@=+-")
    if kind not in KINDS:
        raise ExperimentError(f"{label}: kind {kind!r}: expected one of {', '.join(KINDS)}")
    if "subset" in item:  # nested subsets of the training data: data@N, and the x of line figures
        item["data"] = f"{item.get('data')}@{item['subset']}"
        item.setdefault("x", item["subset"])
    return RunDecl(name=name, kind=kind, fields=item, seeded=bool(item.get("seeded", True)))
