"""Built-in data sets, named ``name[:split]`` (split defaults to train)."""

from __future__ import annotations

from collections.abc import Callable

from vitkit.data import digits, fashion_mnist, mnist5k
from vitkit.data.arrays import ArrayDataset
from vitkit.data.errors import DataError
from vitkit.data.splits import validation_split

BUILTIN: dict[str, Callable[[str, str | None], ArrayDataset]] = {
    "fashion-mnist": fashion_mnist.load,
    "mnist-5k": mnist5k.load,
    "digits": digits.load,
}
"""Loader of each built-in name: ``load(split, root) -> ArrayDataset``."""

SPLITS = ("train", "test", "fit", "val")
"""``fit`` + ``val`` = ``train`` (val: a seeded fifth of it, for choosing settings without the test split)."""


def is_builtin(spec: str) -> bool:
    """Whether ``spec``'s name part (before any ``:``) is a built-in data set name."""
    return spec.partition(":")[0] in BUILTIN


def open_builtin(spec: str, root: str | None = None) -> ArrayDataset:
    """Load ``name[:split]``; an unknown name or split is a DataError listing the valid ones."""
    name, _, split = spec.partition(":")
    if name not in BUILTIN:
        raise DataError(f"unknown built-in data set {name!r} (valid: {', '.join(BUILTIN)})")
    split = split or "train"
    if split not in SPLITS:
        raise DataError(f"{name}: unknown split {split!r} (valid: {', '.join(SPLITS)})")
    if split in ("fit", "val"):
        return validation_split(BUILTIN[name]("train", root), split, name=name)
    return BUILTIN[name](split, root)
