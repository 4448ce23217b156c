"""Which images of a data set a model gets right, one by one: what paired comparisons need."""

from __future__ import annotations

import os

import torch

from ..data import make_loader, open_dataset
from ..models.info import ImageModel
from ..models.transform import transform_for
from .predict import model_device


@torch.inference_mode()
def correct_per_image(model: ImageModel | str | os.PathLike[str], data: str, batch_size: int = 256) -> list[bool]:
    """Top-1 right or wrong for each image of ``data`` (a data spec), in the data set's order, with the
    checkpoint's own transform; ``model`` is a model or anything ``vitkit.load`` opens (a run folder)."""
    if isinstance(model, (str, os.PathLike)):
        from .. import load

        model = load(model)
    model.eval()
    loader = make_loader(open_dataset(data), transform_for(model), batch_size, train=False)
    device = model_device(model)
    out: list[bool] = []
    for images, labels in loader:
        pred = model(images.to(device)).argmax(1).cpu()
        out.extend((pred == labels).tolist())
    return out
