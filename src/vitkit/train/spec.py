"""A run's full description, resolved once and written to ``config.json`` in the run folder.

``--set key=value`` options are routed by name: model config fields go to the model, recipe fields to
the recipe, transform fields to the data transform; an unknown name is a one-line error.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_type_hints

from ..data.transforms import TransformConfig
from ..errors import ConfigError
from ..models.config import BiTConfig, ViTConfig
from .recipes import Recipe, get_recipe

CONFIG_FILE = "config.json"


@dataclass
class TrainSpec:
    """Everything that determines a run (with the seed, its result on CPU is reproducible bit for bit)."""

    out: str
    data: str
    model: str | None = None  # a registered variant name: training from scratch
    init: str | None = None  # a checkpoint: fine-tuning
    val: str | None = None
    test: str | None = None
    recipe: Recipe = field(default_factory=Recipe)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    transform_overrides: dict[str, Any] = field(default_factory=dict)
    image_size: int | None = None
    seed: int = 0
    device: str | None = None
    fsdp: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["recipe"] = self.recipe.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSpec:
        d = dict(d)
        recipe = d.pop("recipe")
        recipe["betas"] = tuple(recipe["betas"])
        return cls(recipe=Recipe(**recipe), **d)

    def write(self, out: Path) -> None:
        (out / CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=1, default=list))

    @classmethod
    def read(cls, out: Path) -> TrainSpec:
        return cls.from_dict(json.loads((out / CONFIG_FILE).read_text()))


_MODEL_FIELDS = {f.name for f in dataclasses.fields(ViTConfig)} | {f.name for f in dataclasses.fields(BiTConfig)}
_RECIPE_FIELDS = {f.name for f in dataclasses.fields(Recipe)}
_TRANSFORM_FIELDS = {f.name for f in dataclasses.fields(TransformConfig)} - {"image_size", "in_chans"}


def _literal_none(cls: type, key: str) -> bool:
    """Whether ``key`` of dataclass ``cls`` takes the string "none" (posemb, train_crop), not None."""
    hint = get_type_hints(cls).get(key)
    return hint is not None and "none" in get_args(hint)


def route_sets(
    recipe_name: str, sets: dict[str, Any], recipe_overrides: dict[str, Any] | None = None
) -> tuple[Recipe, dict[str, Any], dict[str, Any]]:
    """Split ``--set`` values into (recipe, model overrides, transform overrides)."""
    recipe_kw = dict(recipe_overrides or {})
    model_kw: dict[str, Any] = {}
    transform_kw: dict[str, Any] = {}
    for key, value in sets.items():
        if value is None and any(_literal_none(c, key) for c in (ViTConfig, TransformConfig)):
            value = "none"
        if key in _RECIPE_FIELDS:
            recipe_kw[key] = value
        elif key in _MODEL_FIELDS:
            model_kw[key] = value
        elif key in _TRANSFORM_FIELDS:
            transform_kw[key] = value
        else:
            known = sorted(_RECIPE_FIELDS | _MODEL_FIELDS | _TRANSFORM_FIELDS)
            raise ConfigError(f"--set {key}: not a model, recipe or transform option (options: {', '.join(known)})")
    return get_recipe(recipe_name, **recipe_kw), model_kw, transform_kw
