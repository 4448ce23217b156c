"""An experiment's report: ``results.json``, ``table.md`` (mean ± std, standard error, n seeds) and figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from .declaration import Experiment
from .stats import fmt, summarize_runs


def write_report(
    exp: Experiment, out: Path, seeds: int, progress: Any, raw: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Write the report of ``raw`` (finished results per run name, one metric dict per seed: ``runner.collect``)."""
    from .figures import draw_figures
    from .paired import comparisons, targets

    summary = summarize_runs(raw)
    paired = comparisons(exp, out, raw)
    report = {
        "experiment": exp.name,
        "title": exp.title,
        "paper": exp.paper,
        "claim": exp.claim,
        "budget": exp.budget,
        "seeds": seeds,
        "metrics": exp.metrics,
        "this_invocation": {"executed": progress.executed, "skipped": progress.skipped, "seconds": progress.seconds},
        "run_seconds_total": round(sum(r.get("seconds", 0.0) for rows in raw.values() for r in rows), 1),
        "runs": {
            name: {
                "kind": exp.run(name).kind,
                "group": exp.run(name).get("group"),
                "x": exp.run(name).get("x"),
                "seeded": exp.run(name).seeded,
                "summary": summary[name],
                "per_seed": raw[name],
            }
            for name in raw
        },
    }
    report["comparisons"] = paired
    report["targets"] = targets(exp, summary, paired)
    report["figures"] = draw_figures(exp, report, out)
    write_atomic(out / "results.json", lambda f: f.write(json.dumps(report, indent=1).encode()))
    write_atomic(out / "table.md", lambda f: f.write(table(exp, report).encode()))
    return report


def table(exp: Experiment, report: dict[str, Any]) -> str:
    """Markdown: one row per run that has any of the experiment's metrics; mean ± sample std, se, n."""
    head = "| run | n seeds | " + " | ".join(f"{m} (mean ± std) | {m} se" for m in exp.metrics) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(exp.metrics))]
    for name, r in report["runs"].items():
        cells = [r["summary"].get(m) for m in exp.metrics]
        if not any(cells):
            continue
        n = max(c["n"] for c in cells if c)
        lines.append(f"| {name} | {n} | " + " | ".join(" | ".join(fmt(c)) for c in cells) + " |")
    note = (
        f"\n{exp.title} ({exp.paper}); budget `{exp.budget}`; std is the sample standard deviation over seeds, "
        "se = std / √n.\n"
    )
    failed = [
        f"{name} seed {r['seed']}" for name, run in report["runs"].items() for r in run["per_seed"] if "error" in r
    ]
    if failed:
        note += f"\nDiverged (no accuracy, left out of the means): {', '.join(failed)}.\n"
    from .paired import describe

    return "\n".join(lines) + "\n" + note + describe(report.get("comparisons", {}), report.get("targets", []))
