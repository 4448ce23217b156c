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
    num_classes: int
    official: dict[str, Any] | None = None  # {"path": bucket path, "size": bytes or None, "sha256": hex or None}
    timm: str | None = None  # timm model id; its copy is the HF repo timm/<id>
    hf: str | None = None  # Hugging Face repo id of the transformers copy (google/...)
    family: str = "original"
    default: bool = False  # the entry a name without @RES means
    paper: dict[str, Any] | None = None  # the paper's reported accuracy, where it gives one
    arch_overrides: dict[str, Any] = field(default_factory=dict)  # config fields beyond the variant (tests)
    params: int | None = None  # parameters with the head, as count_params gives them (shipped entries: stored)

    def model_config(self) -> Any:
        """The architecture the file must have (the variant at the entry's resolution and head size)."""
        from ..variants import model_config

        return model_config(self.arch, image_size=self.resolution, num_classes=self.num_classes, **self.arch_overrides)

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
