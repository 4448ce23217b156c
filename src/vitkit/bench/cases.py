"""What is measured: a model shape, a mode (inference or one training step) and a batch size.

Shapes are given by their dimensions, not by a vitkit variant, so that every library builds the same
network: the paper's ViT-Ti/S/B at 16x16 patches on 224 px images, and the demo's small ViT at 28 px.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Mode = Literal["infer", "train"]
# the contenders ``vitkit bench`` times by default (``--libraries``)
# (onnxruntime and openvino: those runtimes on timm's model, inference only; see bench.deploy)
DEFAULT_LIBRARIES = (
    *("vitkit", "vitkit-eager", "timm", "torchvision", "transformers-sdpa", "transformers-eager"),
    *("onnxruntime", "openvino"),
)


@dataclass(frozen=True)
class Shape:
    """A ViT's dimensions; ``train_batch`` is the batch its training step is timed at by default."""

    name: str
    image_size: int
    patch_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    mlp_dim: int
    num_classes: int = 1000
    train_batch: int = 16
    in_chans: int = 3

    def vitkit_overrides(self) -> dict[str, object]:
        """``ViTConfig`` fields; exact GELU, as timm, torchvision and transformers use."""
        return dict(
            image_size=self.image_size,
            patch_size=self.patch_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            mlp_dim=self.mlp_dim,
            num_classes=self.num_classes,
            in_chans=self.in_chans,
            gelu="exact",
        )


SHAPES: dict[str, Shape] = {
    "Ti/16": Shape("Ti/16", 224, 16, 192, 12, 3, 768),
    "S/16": Shape("S/16", 224, 16, 384, 12, 6, 1536),
    "B/16": Shape("B/16", 224, 16, 768, 12, 12, 3072),
    # the demo model (reproduce/experiments/demo.toml) at the demo's pre-training resolution and batch
    # (class-token pooling here, as torchvision's ViT has no other; the demo mean-pools, which costs the same)
    "demo": Shape("demo", 28, 4, 64, 4, 4, 128, num_classes=10, train_batch=64),
    # the reference row measured before vitkit existed: 4x4 patches on 32 px, 192 wide, 6 layers
    "p4/32": Shape("p4/32", 32, 4, 192, 6, 3, 768, num_classes=10, train_batch=128),
    # for tests: a model that runs in milliseconds
    "tiny": Shape("tiny", 16, 4, 32, 2, 2, 64, num_classes=10, train_batch=4),
}


@dataclass(frozen=True)
class Case:
    shape: Shape
    mode: Mode
    batch: int

    @property
    def key(self) -> str:
        return f"{self.shape.name} {self.mode} b{self.batch}"

    def to_json(self) -> dict[str, Any]:
        """For a child process (``memory``, ``worker``); ``Case.from_json`` reads it back."""
        return {"shape": asdict(self.shape), "mode": self.mode, "batch": self.batch}

    @staticmethod
    def from_json(d: dict[str, Any]) -> Case:
        return Case(Shape(**d["shape"]), d["mode"], d["batch"])


def get_shape(name: str) -> Shape:
    """A shape by name: ``Ti/16``, ``S/16``, ``B/16``, ``demo`` (also spelled ``ViT-Ti/16``...), ``tiny``."""
    key = name.removeprefix("ViT-")
    if key not in SHAPES:
        raise ValueError(f"model {name!r}: expected one of {', '.join(SHAPES)}")
    return SHAPES[key]


def make_cases(
    models: list[str], batches: list[int], train_batch: int | None = None, train: bool = True, infer: bool = True
) -> list[Case]:
    """Inference at each of ``batches`` and one training step per model (at ``train_batch`` or the shape's)."""
    cases: list[Case] = []
    for name in models:
        shape = get_shape(name)
        if infer:
            cases += [Case(shape, "infer", b) for b in batches]
        if train:
            cases.append(Case(shape, "train", train_batch or shape.train_batch))
    return cases
