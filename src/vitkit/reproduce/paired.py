"""An experiment's declared paired comparisons and targets, computed from its finished runs.

A comparison recounts, image by image on its ``on`` data, what each finished seed of ``a`` and of ``b``
gets right (from the run's ``final.safetensors``, with its own transform), pairs seed ``s`` of ``a`` with
seed ``s`` of ``b`` and summarises over the seeds both have (``use.compare.compare_seeds``). The counts
are cached beside the run (``correct-<data>.json``), so a report written again costs nothing.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..use.compare import compare_seeds
from .declaration import Experiment
from .grid import RESULT_FILE, run_folder


def _correct(folder: Path, data: str) -> list[bool]:
    from ..use.per_image import correct_per_image

    cache = folder / f"correct-{re.sub(r'[^A-Za-z0-9_.@-]+', '_', data)}.json"
    result = folder / RESULT_FILE
    if cache.is_file() and cache.stat().st_mtime >= result.stat().st_mtime:
        return [bool(v) for v in json.loads(cache.read_text())]
    correct = correct_per_image(str(folder), data)
    write_atomic(cache, lambda f: f.write(json.dumps([int(v) for v in correct]).encode()))
    return correct


def comparisons(exp: Experiment, out: Path, raw: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``"a vs b"`` -> the paired summary over the seeds both runs finished without diverging. An unseeded
    run (one run for every seed) is paired with every seed of the other."""
    found: dict[str, Any] = {}
    for entry in exp.comparisons:
        a, b = exp.run(entry["a"]), exp.run(entry["b"])
        ok = {name: {r["seed"] for r in raw.get(name, []) if "error" not in r} for name in (a.name, b.name)}
        if not b.seeded and ok[b.name]:
            ok[b.name] = ok[a.name]
        if not a.seeded and ok[a.name]:
            ok[a.name] = ok[b.name]
        seeds = sorted(ok[a.name] & ok[b.name])
        if not seeds:
            continue
        correct_a = [_correct(run_folder(out, a, s), entry["on"]) for s in seeds]
        correct_b = [_correct(run_folder(out, b, s), entry["on"]) for s in seeds]
        found[f"{a.name} vs {b.name}"] = {**compare_seeds(correct_a, correct_b), "seeds": seeds, "on": entry["on"]}
    return found


def targets(exp: Experiment, summary: dict[str, Any], paired: dict[str, Any]) -> list[dict[str, Any]]:
    """Each declared target with its measured value and ``met`` (None: nothing finished to judge it by)."""
    verdicts = []
    for entry in exp.targets:
        if "compare" in entry:
            name = " vs ".join(entry["compare"])
            cmp = paired.get(name)
            low = cmp["ci95"][0] if cmp else None
            verdicts.append(
                {
                    "target": f"{name}: 95% interval of the paired difference above 0",
                    "value": low,
                    "met": None if low is None else low > 0,
                }
            )
            continue
        s = summary.get(entry["run"], {}).get(entry["metric"])
        value = statistics.fmean(s["values"]) if s else None
        verdicts.append(
            {
                "target": f"{entry['run']} {entry['metric']} (mean over seeds) >= {entry['at_least']}",
                "value": value,
                "met": None if value is None else value >= entry["at_least"],
            }
        )
    return verdicts


def describe(paired: dict[str, Any], verdicts: list[dict[str, Any]]) -> str:
    """Markdown lines for table.md: each comparison's difference with its interval, each target's verdict."""
    lines = []
    if paired:
        lines.append("\nPaired on the same images (seed s of a against seed s of b):\n")
        for name, c in paired.items():
            lo, hi = c["ci95"]
            lines.append(
                f"- {name} on {c['on']}: top-1 {c['a']['mean']:.4f} vs {c['b']['mean']:.4f} "
                f"({len(c['seeds'])} seed(s)); difference {c['diff']:+.4f} ± {c['se']:.4f} (se over images), "
                f"95% [{lo:+.4f}, {hi:+.4f}], p = {c['p']:.2g}"
            )
    if verdicts:
        lines.append("\nTargets:\n")
        for v in verdicts:
            state = {True: "met", False: "**not met**", None: "not measured yet"}[v["met"]]
            value = "—" if v["value"] is None else f"{v['value']:.4f}"
            lines.append(f"- {v['target']}: {value}, {state}")
    return "\n".join(lines) + ("\n" if lines else "")
