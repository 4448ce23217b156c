"""The data transform of a model: the one its checkpoint was trained with, at the model's own resolution.

Training, inference, export and checkpoint conversion all read a model's transform here, so an image goes
through the same steps wherever the model meets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..data.transforms import TransformConfig
from .info import ImageModel


def transform_for(model: ImageModel, overrides: Mapping[str, Any] | None = None) -> TransformConfig:
    """The transform stored in ``model.info`` (the official [-1, 1] one where none is), at the model's image
    size and channels; ``overrides`` (``TransformConfig`` fields, e.g. a run's ``--set`` values) win over both."""
    stored = model.info.transform
    base = TransformConfig.from_dict(stored) if stored else TransformConfig()
    cfg = model.config
    own = {"image_size": cfg.image_size, "in_chans": cfg.in_chans, **(overrides or {})}
    return TransformConfig.from_dict({**base.to_dict(), **own})
