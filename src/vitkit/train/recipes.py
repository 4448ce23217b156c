"""Training recipes of the paper (§5, appendix B) as named, overridable presets.

``pretrain``: Adam(W) beta (0.9, 0.999), high weight decay, linear warm-up then linear decay, dropout.
``finetune``: SGD momentum 0.9, no weight decay, global-norm clipping at 1, cosine decay with warm-up;
the head is replaced by a zero-initialised one and position embeddings are resized to the new resolution.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..errors import ConfigError

Optimizer = Literal["adamw", "sgd"]
Schedule = Literal["linear", "cosine", "constant"]
Precision = Literal["auto", "fp32", "bf16"]
Objective = Literal["classify", "mpp"]


@dataclass(frozen=True)
class Recipe:
    """Every knob of a training run; the presets below set the paper's values."""

    name: str = "pretrain"
    optimizer: Optimizer = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    schedule: Schedule = "linear"
    warmup_steps: int = 100
    min_lr: float = 0.0
    grad_clip: float | None = 1.0
    batch_size: int = 128
    micro_batch_size: int | None = None  # gradient accumulation: batch_size = k * micro_batch_size
    steps: int | None = None
    epochs: float | None = 3
    ema_decay: float | None = None
    dropout_rate: float | None = 0.1  # applied to the model config; None keeps the model's
    label_smoothing: float = 0.0
    precision: Precision = "auto"
    compile: bool = False
    grad_checkpointing: bool = False
    eval_every: int | None = None  # steps; None = at the end of every epoch
    log_every: int = 20
    checkpoint_every: int = 200  # steps between `last` checkpoints
    num_workers: int = 0
    objective: Objective = "classify"
    mpp_mask_rate: float = 0.5

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not type_matches(value, hints[f.name]):
                raise ConfigError(f"{f.name}: expected {describe_type(hints[f.name])}, got {value!r}")
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if any(
                v is not None and not _in_range(v, low, high) for v in (value if isinstance(value, tuple) else (value,))
            ):
                raise ConfigError(f"{name}: expected {_range_text(low, high)}, got {value!r}")
        if self.micro_batch_size is not None and (
            self.micro_batch_size <= 0 or self.batch_size % self.micro_batch_size
        ):
            raise ConfigError(f"micro_batch_size: {self.micro_batch_size} must divide batch_size={self.batch_size}")
        if self.steps is None and self.epochs is None:
            raise ConfigError("steps/epochs: one of them must be set")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay: expected in (0, 1), got {self.ema_decay}")

    @property
    def accum_steps(self) -> int:
        return self.batch_size // (self.micro_batch_size or self.batch_size)

    def replace(self, **changes: Any) -> Recipe:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a recipe option (options: {', '.join(sorted(names))})")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def type_matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the dataclass field type ``hint`` (an int passes for a float, a bool only for bool)."""
    origin = get_origin(hint)
    if origin is Literal:
        return value in get_args(hint)
    if origin in (Union, types.UnionType):
        return any(type_matches(value, a) for a in get_args(hint))
    if origin is tuple:
        args = get_args(hint)
        return isinstance(value, tuple) and len(value) == len(args) and all(map(type_matches, value, args))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def describe_type(hint: Any) -> str:
    """``float | None`` -> "a number or none"; for the one-line errors of ``--set``."""
    origin = get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(map(str, get_args(hint)))
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(a) for a in get_args(hint))
    if origin is tuple:
        return (
            f"{len(get_args(hint))} comma-separated values (" + ",".join(describe_type(a) for a in get_args(hint)) + ")"
        )
    names = {type(None): "none", bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


# (field, (low, "[" inclusive | ")" exclusive), (high, same) or None): checked after the types
_RANGES: list[tuple[str, tuple[float, str], tuple[float, str] | None]] = [
    ("lr", (0, ")"), None),
    ("weight_decay", (0, "["), None),
    ("betas", (0, "["), (1, ")")),
    ("momentum", (0, "["), (1, ")")),
    ("warmup_steps", (0, "["), None),
    ("min_lr", (0, "["), None),
    ("grad_clip", (0, ")"), None),
    ("batch_size", (0, ")"), None),
    ("steps", (0, ")"), None),
    ("epochs", (0, ")"), None),
    ("dropout_rate", (0, "["), (1, ")")),
    ("label_smoothing", (0, "["), (1, ")")),
    ("eval_every", (0, ")"), None),
    ("log_every", (0, ")"), None),
    ("checkpoint_every", (0, ")"), None),
    ("num_workers", (0, "["), None),
    ("mpp_mask_rate", (0, ")"), (1, ")")),
]


def _in_range(v: float, low: tuple[float, str], high: tuple[float, str] | None) -> bool:
    above = low[0] < v if low[1] == ")" else low[0] <= v
    below = high is None or (v < high[0] if high[1] == ")" else v <= high[0])
    return above and below


def _range_text(low: tuple[float, str], high: tuple[float, str] | None) -> str:
    if high is None:
        return f"> {low[0]}" if low[1] == ")" else f">= {low[0]}"
    return f"in {low[1] if low[1] == '[' else '('}{low[0]}, {high[0]}{high[1] if high[1] == ')' else ']'}"


PRESETS: dict[str, Recipe] = {
    # Table 3 scaled down: ImageNet-1k used lr 3e-3, wd 0.3, batch 4096, 10k warm-up steps, dropout 0.1.
    "pretrain": Recipe(
        name="pretrain",
        optimizer="adamw",
        lr=1e-3,
        weight_decay=0.1,
        schedule="linear",
        warmup_steps=200,
        grad_clip=1.0,
        dropout_rate=0.1,
    ),
    # §5: SGD momentum 0.9, no weight decay, clipping at global norm 1, cosine, short warm-up, lr from {.001..0.03}.
    "finetune": Recipe(
        name="finetune",
        optimizer="sgd",
        lr=0.03,
        weight_decay=0.0,
        momentum=0.9,
        schedule="cosine",
        warmup_steps=50,
        grad_clip=1.0,
        dropout_rate=0.0,
        batch_size=128,
        epochs=None,
        steps=500,
    ),
}


def get_recipe(name: str, **overrides: Any) -> Recipe:
    if name not in PRESETS:
        raise ConfigError(f"recipe: unknown {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]


def parse_value(text: str) -> Any:
    """A ``--set`` value: int, float, bool, None, a tuple ``a,b`` or a string."""
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if "," in text:
        return tuple(parse_value(part) for part in text.split(","))
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["lr=0.01", "num_layers=6"]`` -> ``{"lr": 0.01, "num_layers": 6}``; bad syntax is a ConfigError."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        out[key.strip()] = parse_value(value.strip())
    return out
