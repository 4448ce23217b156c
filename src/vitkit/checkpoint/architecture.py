"""Architecture facts every converter infers the same way from the tensors."""

from __future__ import annotations

import math
from pathlib import Path

from ..models.config import ResNetConfig
from .errors import CheckpointError


def image_size_from_posemb(
    patch_rows: int, patch: tuple[int, int], resnet: ResNetConfig | None, path: Path, what: str
) -> tuple[int, int]:
    """The (square) training resolution that ``patch_rows`` position embeddings describe.

    Checkpoints store no grid shape: the grid is taken as square, each token covering ``patch`` pixels of
    the image (times the ResNet stem's reduction for hybrids). ``what`` names the tensor in the error.
    """
    side = math.isqrt(patch_rows)
    if side * side != patch_rows:
        raise CheckpointError(path, f"{what} has {patch_rows} patch rows, not a square grid")
    reduction = resnet.reduction if resnet else 1
    return (side * patch[0] * reduction, side * patch[1] * reduction)
