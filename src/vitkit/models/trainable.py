"""What the trainer needs of a model besides the ``ImageModel`` protocol: ``TrainableModel``.

The ViT, the BiT ResNet and the masked-patch-prediction wrapper (``train/mpp.py``) subclass it explicitly, so
a type checker holds each to it and ``train/`` calls these methods instead of asking what a model has.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import nn

from .info import ImageModel


@runtime_checkable
class TrainableModel(ImageModel, Protocol):
    """An ``ImageModel`` the trainer can optimise, checkpoint activations of, shard and fine-tune.

    Subclasses list ``nn.Module`` before this protocol, so that its stubs never shadow ``Module.__call__``,
    ``train`` or ``eval``.
    """

    def no_weight_decay(self) -> set[str]:
        """Names of parameters (as ``named_parameters`` spells them) the recipes exempt from weight decay."""
        ...

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute activations in the backward pass instead of storing them (training memory for time)."""
        ...

    def fsdp_units(self) -> list[nn.Module]:
        """The submodules FSDP shards one by one (then the whole model); empty: the model is one unit."""
        ...

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a new zero-initialised one for ``num_classes`` (0: no head)."""
        ...
