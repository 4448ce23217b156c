"""What a run reports: ``metrics.jsonl`` (one JSON object per line), TensorBoard events, and progress
on the terminal (a tqdm bar on a TTY, plain periodic lines otherwise). Only rank 0 writes."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any


class RunLog:
    def __init__(self, out: Path, total_steps: int, start_step: int, enabled: bool, log_every: int) -> None:
        self.enabled, self.log_every, self.total = enabled, log_every, total_steps
        self.metrics_path = out / "metrics.jsonl"
        self._since = (time.perf_counter(), start_step)  # for the plain lines' time left
        self.writer = None
        self.bar = None
        if not enabled:
            return
        _truncate_after(self.metrics_path, start_step)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=start_step or None)
        except ImportError:  # tensorboard is optional; metrics.jsonl always exists
            pass
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)
        self._last = time.perf_counter()

    def record(self, step: int, values: dict[str, Any], kind: str = "train") -> None:
        """Append one record; train records also update the progress display."""
        if not self.enabled:
            return
        row = {"step": step, "kind": kind, **values}
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{kind}/{key}", value, step)
        self._show(step, values, kind)

    def _show(self, step: int, values: dict[str, Any], kind: str) -> None:
        brief = {k: v for k, v in values.items() if k in ("loss", "lr", "images_per_s", "top1", "top5")}
        text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in brief.items())
        if self.bar is not None:
            if kind == "train":
                self.bar.update(step - self.bar.n)
                self.bar.set_postfix_str(text)
            else:
                self.bar.write(f"[{kind} step {step}] {text}")
        elif kind != "train" or step % self.log_every == 0 or step == self.total:
            left = f" eta {eta(*self._since, step, self.total)}" if kind == "train" and step < self.total else ""
            print(f"[{kind}] step {step}/{self.total} {text}{left}", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        (self.bar.write if self.bar is not None else lambda t: print(t, file=sys.stderr, flush=True))(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def eta(t0: float, step0: int, step: int, total: int) -> str:
    """Time left at the mean pace since (``t0``, ``step0``): ``"2m05s"``, or ``"?"`` before a step is done."""
    if step <= step0:
        return "?"
    seconds = round((time.perf_counter() - t0) / (step - step0) * (total - step))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _truncate_after(path: Path, step: int) -> None:
    """On resume, drop records the killed run wrote after its last checkpoint (they will be redone)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in keep))


def last_logged(folder: Path, key: str, last: int = 5) -> float | None:
    """Mean of ``key`` over the last ``last`` logged training rows of ``metrics.jsonl``."""
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    values = [r[key] for r in rows if r.get("kind") == "train" and key in r]
    return statistics.fmean(values[-last:]) if values else None
