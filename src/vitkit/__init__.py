"""vitkit: the Vision Transformer of "An Image is Worth 16x16 Words", whole.

``import vitkit`` is cheap and changes nothing process-wide: the public names below are imported on first
use (torch with them). MKL's fast kernels on AMD CPUs are opt-in for library users (``vitkit.mkl_amd``, the
public name of ``vitkit.runtime.mkl_amd``); the ``vitkit`` command enables them itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, VitkitError

if TYPE_CHECKING:  # the names as type checkers and IDEs see them; at run time, __getattr__ below
    from .checkpoint.errors import CheckpointError
    from .checkpoint.load import load, read_checkpoint
    from .checkpoint.native import save
    from .models.build import build_model, create_model
    from .models.config import BiTConfig, ResNetConfig, ViTConfig
    from .models.info import ImageModel, ModelInfo
    from .models.variants import list_models, model_config

# public name -> the module that defines it (imported on first access: most of them pull in torch)
_LAZY = {
    "BiTConfig": "models.config",
    "ResNetConfig": "models.config",
    "ViTConfig": "models.config",
    "CheckpointError": "checkpoint",
    "load": "checkpoint",
    "read_checkpoint": "checkpoint",
    "save": "checkpoint",
    "build_model": "models.build",
    "create_model": "models.build",
    "list_models": "models.variants",
    "model_config": "models.variants",
    "ImageModel": "models.info",
    "ModelInfo": "models.info",
}

__all__ = [
    "BiTConfig",
    "CheckpointError",
    "ConfigError",
    "ImageModel",
    "ModelInfo",
    "ResNetConfig",
    "ViTConfig",
    "VitkitError",
    "build_model",
    "create_model",
    "list_models",
    "load",
    "model_config",
    "read_checkpoint",
    "save",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562); submodules import as usual."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
