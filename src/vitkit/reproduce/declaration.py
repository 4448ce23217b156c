"""What an experiment file declares, once read: the ``Experiment``, its ``RunDecl`` runs, the field names and
kinds a file may use, and ``ExperimentError`` (shared by the reader and the validator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

BUDGETS = ("small", "full")
KINDS = ("train", "fewshot", "inspect")
FIGURE_KINDS = ("bar", "line", "copy")
RUN_FIELDS = {
    "name",
    "kind",
    "use",
    "model",
    "from",
    "data",
    "test",
    "recipe",
    "image_size",
    "set",
    "shots",
    "num_images",
    "group",
    "x",
    "seeded",
    "vary",
    "label",
    "subset",
    "budgets",
}
COMPARE_FIELDS = {"a", "b", "on"}
TARGET_FIELDS = {"run", "metric", "at_least", "compare"}
# [[compare]] and [[target]] entries may also say budgets = [...], as runs do


class ExperimentError(ConfigError):
    """An experiment file, or the name of one, that cannot be run."""


@dataclass(frozen=True)
class RunDecl:
    """One run of the grid, with the budget's values filled in."""

    name: str
    kind: str
    fields: dict[str, Any]
    seeded: bool = True

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def parent(self) -> str | None:
        return self.fields.get("from")


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    paper: str
    claim: str
    metrics: list[str]
    runs: list[RunDecl]
    figures: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # [[compare]]: a, b, on (a data spec)
    targets: list[dict[str, Any]] = field(default_factory=list)  # [[target]]: run + metric + at_least, or compare
    budget: str = "small"
    source: str = ""

    def run(self, name: str) -> RunDecl:
        return next(r for r in self.runs if r.name == name)

    def training_steps(self) -> int | None:
        """Training steps of one seed's grid (None if a training run leaves its steps to its recipe)."""
        steps = [r.get("set", {}).get("steps") for r in self.runs if r.kind == "train"]
        return None if any(s is None for s in steps) else sum(int(s) for s in steps)
