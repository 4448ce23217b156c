"""Checkpoints: vitkit's safetensors format and converters from every other ViT format."""

from .errors import CheckpointError
from .load import Checkpoint, load, read_checkpoint
from .native import save

__all__ = ["Checkpoint", "CheckpointError", "load", "read_checkpoint", "save"]
