"""vitkit: the Vision Transformer of "An Image is Worth 16x16 Words", whole."""

from . import blas

blas.enable()  # before anything imports torch: MKL's fast kernels on AMD CPUs (see vitkit/blas.py)

from .errors import VitkitError
from .config import BiTConfig, ConfigError, ResNetConfig, ViTConfig
from .checkpoint import CheckpointError, load, read_checkpoint, save
from .variants import build_model, create_model, list_models, model_config

__all__ = [
    "BiTConfig",
    "CheckpointError",
    "ConfigError",
    "ResNetConfig",
    "ViTConfig",
    "build_model",
    "create_model",
    "list_models",
    "load",
    "model_config",
    "read_checkpoint",
    "save",
    "VitkitError",
]
__version__ = "0.1.0"
