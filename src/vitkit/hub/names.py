"""Checkpoint names: ``ARCH:DATA[@RES]`` (the registry), ``hf:REPO`` and ``timm:MODEL.TAG``.

A string that names an existing file or folder is always a path; anything else with a colon is a name.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from .errors import HubError
from .registry import Entry, entries

PREFIXES = ("hf:", "timm:")


@dataclass(frozen=True)
class Ref:
    """A parsed name: ``kind`` is ``registry``, ``hf`` or ``timm``; ``id`` the rest."""

    kind: str
    id: str
    entry: Entry | None = None


def is_name(spec: str | os.PathLike[str]) -> bool:
    """True when ``spec`` is to be resolved by name rather than read as a path."""
    text = os.fspath(spec)
    return not (os.path.exists(text) or ":" not in text or text.startswith(("/", ".", "~")))


def parse(name: str) -> Ref:
    """Resolve ``name`` to what to fetch, or say in one line which names are closest."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if not rest:
                example = (
                    "google/vit-base-patch16-224" if prefix == "hf:" else "vit_base_patch16_224.augreg2_in21k_ft_in1k"
                )
                raise HubError(f"{name!r}: expected {prefix}ID (e.g. {prefix}{example})")
            return Ref(prefix[:-1], rest)
    return Ref("registry", name, lookup(name))


def lookup(name: str) -> Entry:
    """The registry entry of ``name``; ``ARCH:DATA`` without ``@RES`` means the entry marked default."""
    known = entries()
    if name in known:
        return known[name]
    defaults = [e for e in known.values() if e.name.split("@")[0] == name and e.default]
    if len(defaults) == 1:
        return defaults[0]
    raise HubError(
        f"unknown checkpoint name {name!r}; closest: {', '.join(closest(name, known)) or 'none'}"
        " (vitkit pretrained lists them all)"
    )


def closest(name: str, known: dict[str, Entry], n: int = 5) -> list[str]:
    """The ``n`` registered names most like ``name`` (case-insensitive)."""
    by_lower = {k.lower(): k for k in known}
    by_lower.update({k.split("@")[0].lower(): k.split("@")[0] for k, e in known.items() if e.default})
    hits = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.3)
    return [by_lower[h] for h in hits]
