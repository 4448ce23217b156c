"""Evaluation: top-1/top-5, per-class accuracy and the confusion matrix of a classifier on a data set."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..models.info import ImageModel


@dataclass
class EvalResult:
    """Counts over a whole data set; ``confusion[i, j]`` = images of class i predicted as j."""

    confusion: torch.Tensor
    top5_correct: int
    loss_sum: float

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def top1(self) -> float:
        return float(self.confusion.diag().sum()) / max(self.count, 1)

    @property
    def top5(self) -> float:
        return self.top5_correct / max(self.count, 1)

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.count, 1)

    def per_class(self) -> list[float | None]:
        totals = self.confusion.sum(1)
        return [None if t == 0 else float(c) / float(t) for c, t in zip(self.confusion.diag(), totals)]

    def to_dict(self, classes: list[str] | None = None) -> dict[str, Any]:
        names = classes or [str(i) for i in range(self.confusion.shape[0])]
        return {
            "count": self.count,
            "top1": self.top1,
            "top5": self.top5,
            "loss": self.loss,
            "per_class": dict(zip(names, self.per_class())),
            "classes": names,
            "confusion": self.confusion.tolist(),
        }

    def table(self, classes: list[str] | None = None) -> str:
        """Per-class accuracy and the confusion matrix as aligned text."""
        names = classes or [str(i) for i in range(self.confusion.shape[0])]
        width = max(5, *(len(n) for n in names))
        lines = [f"images {self.count}   top-1 {self.top1:.4f}   top-5 {self.top5:.4f}   loss {self.loss:.4f}", ""]
        lines.append(f"{'class':<{width}}  {'acc':>6}  {'n':>6}   " + " ".join(f"{i:>5}" for i in range(len(names))))
        for i, (name, acc) in enumerate(zip(names, self.per_class())):
            row = " ".join(f"{int(v):>5}" for v in self.confusion[i])
            acc_s = "   -  " if acc is None else f"{acc:6.4f}"
            lines.append(f"{name:<{width}}  {acc_s}  {int(self.confusion[i].sum()):>6}   {row}")
        return "\n".join(lines)


@torch.no_grad()
def evaluate(
    model: ImageModel,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
) -> EvalResult:
    """Run ``model`` over ``batches`` of (images, labels); distributed callers all-reduce the result."""
    was_training = model.training
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    top5, loss_sum = 0, 0.0
    device = torch.device(device)
    for images, labels in batches:
        images, labels = images.to(device, non_blocking=True), labels.to(device)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(images)
        logits = logits.float()
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        pred = logits.argmax(1)
        confusion += torch.bincount((labels * num_classes + pred).cpu(), minlength=num_classes**2).view(
            num_classes, num_classes
        )
        k = min(5, logits.shape[1])
        top5 += int((logits.topk(k, dim=1).indices == labels[:, None]).any(1).sum())
    model.train(was_training)
    return EvalResult(confusion, top5, loss_sum)


def all_reduce_result(result: EvalResult) -> EvalResult:
    """Sum the counts of every rank (a no-op without torch.distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return result
    stats = torch.tensor([result.top5_correct, result.loss_sum], dtype=torch.float64)
    confusion = result.confusion.clone()
    dist.all_reduce(confusion)
    dist.all_reduce(stats)
    return EvalResult(confusion, int(stats[0]), float(stats[1]))


def all_reduce_sum(value: float) -> float:
    """``value`` summed over every rank (itself without torch.distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t)
