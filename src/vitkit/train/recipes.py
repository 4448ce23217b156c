"""Training recipes of the paper (§5, appendix B) as named, overridable presets.

``pretrain``: Adam(W) beta (0.9, 0.999), high weight decay, linear warm-up then linear decay, dropout.
``finetune``: SGD momentum 0.9, no weight decay, global-norm clipping at 1, cosine decay with warm-up;
the head is replaced by a zero-initialised one and position embeddings are resized to the new resolution.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_type_hints

from ..config import ConfigError

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
            allowed = get_args(hints[f.name])
            if allowed and all(isinstance(a, str) for a in allowed) and getattr(self, f.name) not in allowed:
                raise ConfigError(f"{f.name}: expected one of {', '.join(allowed)}, got {getattr(self, f.name)!r}")
        if self.lr <= 0:
            raise ConfigError(f"lr: expected > 0, got {self.lr}")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size: expected > 0, got {self.batch_size}")
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
