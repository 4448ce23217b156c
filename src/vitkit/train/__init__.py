"""Training: recipes, the resumable loop, EMA, distributed wrapping."""

from .loop import Trainer, train
from .recipes import PRESETS, Recipe, get_recipe
from .spec import TrainSpec

__all__ = ["PRESETS", "Recipe", "TrainSpec", "Trainer", "get_recipe", "train"]
