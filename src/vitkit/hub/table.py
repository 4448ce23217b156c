"""The registry as rows and as the markdown table of docs/checkpoints.md (generated, so it cannot drift)."""

from __future__ import annotations

from functools import cache
from typing import Any

from .registry import Entry, entries


def params_of(entry: Entry) -> int | None:
    """Parameters of the registry's architecture with its head: stored in the shipped registry, else counted
    on the meta device (no memory, ~0.25 s a model)."""
    from ..errors import ConfigError

    if entry.params is not None:
        return entry.params
    try:
        return _count(entry.model_config())
    except ConfigError:
        return None


@cache
def _count(cfg: Any) -> int:
    from ..models.flops import count_params

    return count_params(cfg)


def rows(with_cache: bool = False, contains: str = "") -> list[dict[str, Any]]:
    """One row per registered checkpoint whose name contains ``contains`` (case-insensitive): name, params,
    resolution, data, sources, paper accuracy (and which source is cached)."""
    from .names import Ref
    from .sources import cached, sources

    out = []
    for e in entries().values():
        if contains.lower() not in e.name.lower():
            continue
        ref = Ref("registry", e.name, e)
        row = {
            "name": e.name,
            "params": params_of(e),
            "resolution": e.resolution,
            "data": e.data,
            "labels": e.labels,
            "sources": [s.kind for s in sources(ref)],
            "head": e.head,
            "pre_logits": e.pre_logits,
            "classifier": e.classifies,
            "paper_imagenet_top1": (e.paper or {}).get("imagenet_top1"),
            "paper": e.paper,
            "listed_size": (e.official or {}).get("listed_size"),
            "notes": list(e.notes),
        }
        if with_cache:
            hit = cached(ref)
            row["cached"] = hit.kind if hit else None
        out.append(row)
    return out


HEAD = {"valid": "classifier", "zeroed": "none (zeroed in the release)", "absent": "none (absent in the release)"}


def markdown() -> str:
    """The by-name table of docs/checkpoints.md, then the notes of the names that have any."""
    lines = [
        "| name | params | resolution | data | head | pre-logits | official size | sources | paper ImageNet top-1 |",
        "|---|---:|---:|---|---|---|---:|---|---|",
    ]
    notes: dict[str, list[str]] = {}  # note -> the names it applies to
    for r in rows():
        params = f"{r['params'] / 1e6:.1f} M" if r["params"] else "—"
        cells = [
            f"`{r['name']}`",
            params,
            str(r["resolution"]),
            r["data"],
            HEAD[r["head"]],
            "yes" if r["pre_logits"] else "no",
            r["listed_size"] or "—",
            ", ".join(r["sources"]),
            _paper(r["paper"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        for note in r["notes"]:
            notes.setdefault(note, []).append(f"`{r['name']}`")
    listed = [f"- {note}: {', '.join(names)}" for note, names in notes.items()]
    return "\n".join(lines) + "\n" + ("\nNotes:\n\n" + "\n".join(listed) + "\n" if listed else "")


def _paper(paper: dict | None) -> str:
    """The paper's figure with where it comes from, and whether it is this file's."""
    if not paper:
        return "—"
    where = f"{paper['table']}, {paper['resolution']} px" if paper.get("resolution") else paper["table"]
    release = "" if paper.get("release", True) else "; not this file"
    return f"{paper['imagenet_top1']:.2f} ({where}{release})"
