"""The registry as rows and as the markdown table of docs/checkpoints.md (generated, so it cannot drift)."""

from __future__ import annotations

from functools import cache
from typing import Any

from .registry import Entry, entries


def params_of(entry: Entry) -> int | None:
    """Parameters of the registry's architecture with its head: stored in the shipped registry, else counted
    on the meta device (no memory, ~0.25 s a model)."""
    from ..config import ConfigError

    if entry.params is not None:
        return entry.params
    try:
        return _count(entry.model_config())
    except ConfigError:
        return None


@cache
def _count(cfg: Any) -> int:
    from ..flops import count_params

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
            "paper_imagenet_top1": (e.paper or {}).get("imagenet_top1"),
        }
        if with_cache:
            hit = cached(ref)
            row["cached"] = hit.kind if hit else None
        out.append(row)
    return out


def markdown() -> str:
    """The by-name table of docs/checkpoints.md."""
    lines = [
        "| name | params | resolution | pre-training data | sources | paper ImageNet top-1 |",
        "|---|---:|---:|---|---|---:|",
    ]
    for r in rows():
        params = f"{r['params'] / 1e6:.1f} M" if r["params"] else "—"
        acc = f"{r['paper_imagenet_top1']:.2f}" if r["paper_imagenet_top1"] else "—"
        lines.append(
            f"| `{r['name']}` | {params} | {r['resolution']} | {r['data']} | {', '.join(r['sources'])} | {acc} |"
        )
    return "\n".join(lines) + "\n"
