"""``vitkit bench --backends CKPT``: the measurement behind ``--backend auto``, as a table, remembered.

The same timing ``auto`` runs the first time (``vitkit.use.autobackend.measure``), at each asked batch size, with
a longer budget if asked; the winners replace what ``auto`` remembered for this file on this machine.
"""

from __future__ import annotations

import os
from typing import Any

from ..use.autobackend import Measurement, machine_key, measure, remember


def measure_backends(
    path: str | os.PathLike[str], batches: list[int], output: str = "logits", seconds: float = 6.0
) -> list[Measurement]:
    """One ``Measurement`` per batch size (each about ``seconds`` long), each remembered for ``auto``."""
    out = []
    for b in batches:
        m = measure(path, b, output, seconds=seconds)  # type: ignore[arg-type]
        remember(path, output, m)  # type: ignore[arg-type]
        out.append(m)
    return out


def format_backends(path: str, measurements: list[Measurement], asked: list[int]) -> str:
    """A plain-text table: images/s per backend and batch, the one ``auto`` now picks marked."""
    m: dict[str, Any] = machine_key()
    lines = [
        f"vitkit bench --backends {path}: {m['cpu']}, {m['threads']} threads; images/s as median [min, max] of 3 "
        "alternating rounds; auto runs the fastest",
        "",
        f"{'batch':>5}  {'backend':<12} {'images/s':>28}",
        "-" * 48,
    ]
    for want, r in zip(asked, measurements):
        batch = f"{r.batch}" if r.batch == want else f"{want} (timed at {r.batch})"
        for backend, s in r.img_s.items():
            rate = f"{s['median']:.2f} [{s['min']:.2f}, {s['max']:.2f}]"
            mark = "  <- auto" if backend == r.winner else ""
            lines.append(f"{batch:>5}  {backend:<12} {rate:>28}{mark}")
        for backend, why in r.skipped.items():
            lines.append(f"{batch:>5}  {backend:<12} {why}")
        lines.append("")
    return "\n".join(lines)
