"""``vitkit.use.evaluate`` and ``vitkit eval``: confusion matrix, top-1, top-5, per-class accuracy and loss,
checked against counts worked out by hand for a model whose every logit is chosen."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import vitkit
from vitkit.cli.main import main
from vitkit.use.evaluate import evaluate

# 6 classes, 7 images: image i's logits are LOGITS[i] (the model reads i from the image), its label LABELS[i]
LOGITS = torch.tensor(
    [
        [9.0, 1, 2, 3, 4, 5],  # label 0: top-1 0 (right)
        [1.0, 9, 2, 3, 4, 5],  # label 0: top-1 1, 0 is ranked 6th: not in the top 5
        [1.0, 2, 9, 3, 4, 5],  # label 2: right
        [5.0, 4, 3, 9, 2, 1],  # label 2: top-1 3; 2 is ranked 4th: in the top 5
        [1.0, 2, 3, 4, 9, 5],  # label 3: top-1 4; 3 ranked 3rd: in the top 5
        [1.0, 2, 3, 4, 5, 9],  # label 5: right
        [2.0, 1, 3, 4, 5, 9],  # label 1: top-1 5; 1 ranked 6th: not in the top 5
    ]
)
LABELS = torch.tensor([0, 0, 2, 2, 3, 5, 1])


class Lookup(nn.Module):
    """A classifier whose logits for an image holding the number i are LOGITS[i]."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return LOGITS[images[:, 0, 0, 0].round().long()]


def _batches(size: int):
    index = torch.arange(len(LABELS), dtype=torch.float32).view(-1, 1, 1, 1)
    return [(index[i : i + size], LABELS[i : i + size]) for i in range(0, len(LABELS), size)]


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_evaluate_against_a_hand_count(batch_size):
    result = evaluate(Lookup(), _batches(batch_size), num_classes=6)
    expected = torch.zeros(6, 6, dtype=torch.long)
    for label, pred in [(0, 0), (0, 1), (2, 2), (2, 3), (3, 4), (5, 5), (1, 5)]:  # read off the table above
        expected[label, pred] += 1
    assert torch.equal(result.confusion, expected)
    assert result.count == 7
    assert result.top1 == pytest.approx(3 / 7)  # images 0, 2, 5
    assert result.top5 == pytest.approx(5 / 7)  # all but images 1 and 6
    # class 0: 1 of 2; class 1: 0 of 1; class 2: 1 of 2; class 3: 0 of 1; class 4: no images; class 5: 1 of 1
    assert result.per_class() == [0.5, 0.0, 0.5, 0.0, None, 1.0]
    hand_loss = sum(
        math.log(sum(math.exp(v) for v in row.tolist())) - row[y].item() for row, y in zip(LOGITS, LABELS.tolist())
    )
    assert result.loss == pytest.approx(hand_loss / 7, rel=1e-6)
    d = result.to_dict([f"c{i}" for i in range(6)])
    assert d["per_class"] == {"c0": 0.5, "c1": 0.0, "c2": 0.5, "c3": 0.0, "c4": None, "c5": 1.0}
    assert d["confusion"] == expected.tolist()
    assert "top-1 0.4286" in result.table() and "top-5 0.7143" in result.table()


def test_vitkit_eval_on_a_folder_with_a_model_that_always_ranks_the_same(tmp_path, capsys):
    """A ViT with a zero head and chosen biases ranks the classes the same for every image: 1 > 2 > 3 > 4 > 5 > ..."""
    counts = [1, 2, 1, 1, 1, 1, 2]  # images per class c0..c6
    rng = np.random.default_rng(0)
    for c, n in enumerate(counts):
        (tmp_path / "data" / f"c{c}").mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / f"c{c}" / f"{i}.png")
    model = vitkit.create_model(
        "ViT-Ti/16", patch_size=4, hidden_size=32, num_layers=1, num_heads=2, mlp_dim=64, image_size=16, num_classes=7
    )
    bias = torch.tensor([0.0, 6, 5, 4, 3, 2, 1])
    with torch.no_grad():
        model.head.bias.copy_(bias)  # the head's weight is zero: logits = bias for every image
    model.info.classes = [f"c{c}" for c in range(7)]
    vitkit.save(model, tmp_path / "model.safetensors")

    out = tmp_path / "eval.json"
    assert (
        main(["eval", str(tmp_path / "model.safetensors"), "--data", str(tmp_path / "data"), "--json", str(out)]) == 0
    )
    result = json.loads(out.read_text())
    n = sum(counts)
    assert result["count"] == n
    assert result["top1"] == pytest.approx(counts[1] / n)  # every image predicted c1
    assert result["top5"] == pytest.approx(sum(counts[1:6]) / n)  # c1..c5 are the top 5
    assert result["per_class"] == {f"c{c}": (1.0 if c == 1 else 0.0) for c in range(7)}
    assert result["confusion"] == [[counts[c] if p == 1 else 0 for p in range(7)] for c in range(7)]
    log_z = math.log(sum(math.exp(b) for b in bias.tolist()))
    hand_loss = sum(counts[c] * (log_z - bias[c].item()) for c in range(7)) / n
    assert result["loss"] == pytest.approx(hand_loss, rel=1e-5)
    table = capsys.readouterr().out
    assert f"images {n}" in table and f"top-1 {counts[1] / n:.4f}" in table
