"""The published checkpoints as data: ``registry.json`` (shipped with vitkit) plus the user's own entries.

``VITKIT_REGISTRY`` names extra JSON files (``os.pathsep``-separated, same layout as ``registry.json``:
``{"models": {NAME: {...}}}``) whose entries add to or replace the shipped ones; ``register`` does the same
from Python. ``VITKIT_HUB_URL`` replaces the official base URL (a mirror of storage.googleapis.com).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import HubError

DEFAULT_BASE_URL = "https://storage.googleapis.com"
_REGISTERED: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Entry:
    """One published checkpoint: what it is, where it lives, and the architecture its file must have."""

    name: str
    arch: str
    resolution: int
    data: str
    labels: str  # imagenet1k | imagenet21k | none
    num_classes: int  # the released file's head (21843, 1000); the model has none unless ``head`` is valid
    # {"path": bucket path, "size": bytes or None, "listed_size": the official listing's "393.69 MiB" or None,
    #  "sha256": hex or None}
    official: dict[str, Any] | None = None
    timm: str | None = None  # timm model id; its copy is the HF repo timm/<id>
    hf: str | None = None  # Hugging Face repo id of the transformers copy (google/...)
    family: str = "original"
    default: bool = False  # the entry a name without @RES means
    paper: dict[str, Any] | None = None  # the paper's reported accuracy, where it gives one
    arch_overrides: dict[str, Any] = field(default_factory=dict)  # config fields beyond the variant (tests)
    params: int | None = None  # parameters of the model the name yields, as count_params gives them (stored)
    head: str = "valid"  # the released file's head: valid | zeroed (by its authors) | absent
    pre_logits: bool = False  # the model has the pre-logits layer (Dense + tanh) of its pre-training
    transform: dict[str, Any] | None = None  # the authors' evaluation transform (TransformConfig fields)
    notes: list[str] = field(default_factory=list)  # where sources or the paper differ from this release

    @property
    def classifies(self) -> bool:
        """Whether the name's model is a classifier (a valid head), or a feature extractor."""
        return self.head == "valid"

    def model_config(self) -> Any:
        """The model the name yields, whatever its source: the variant at the entry's resolution, with the
        released head when it is valid (none otherwise) and the pre-logits layer where the release has it."""
        from ..models.variants import model_config

        num_classes = self.num_classes if self.classifies else 0
        cfg = model_config(self.arch, image_size=self.resolution, num_classes=num_classes, **self.arch_overrides)
        return cfg.replace(representation_size=cfg.hidden_size) if self.pre_logits else cfg

    def transform_config(self) -> Any:
        """The transform the authors evaluate this release with, at its resolution."""
        from ..data.transforms import TransformConfig

        return TransformConfig(**{**(self.transform or {}), "image_size": self.resolution})

    def official_url(self) -> str | None:
        """The official file's URL under the base URL (``VITKIT_HUB_URL`` or storage.googleapis.com)."""
        if not self.official:
            return None
        from urllib.parse import quote

        return f"{base_url()}/{quote(self.official['path'])}"


def base_url() -> str:
    return (os.environ.get("VITKIT_HUB_URL") or DEFAULT_BASE_URL).rstrip("/")


def register(name: str, **fields: Any) -> None:
    """Add (or replace) a registry entry for this process: same fields as ``registry.json``."""
    _REGISTERED[name] = fields


def entries() -> dict[str, Entry]:
    """Every known checkpoint by name: shipped, then ``VITKIT_REGISTRY`` files, then ``register`` calls."""
    raw = dict(_read(resources.files(__package__).joinpath("registry.json")))
    for extra in filter(None, os.environ.get("VITKIT_REGISTRY", "").split(os.pathsep)):
        raw.update(_read(Path(extra)))
    raw.update(_REGISTERED)
    return {name: _entry(name, fields) for name, fields in raw.items()}


def _read(path: Any) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(path.read_text())["models"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise HubError(f"registry {path}: not a readable registry file ({type(e).__name__}: {e})") from None


def _entry(name: str, fields: dict[str, Any]) -> Entry:
    try:
        return Entry(name=name, **fields)
    except TypeError as e:
        raise HubError(f"registry entry {name!r}: {e}") from None
