"""README and docs run as written: the shell blocks marked ``sh runnable`` are run, the README's Python quick
start is executed with local stand-ins for the checkpoint names (no download), and README stays short."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.S | re.M)


def blocks(path: Path, info: str) -> list[str]:
    return [m["body"] for m in _FENCE.finditer(path.read_text()) if m["info"].strip() == info]


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    text = block.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


RUNNABLE = [(p.relative_to(ROOT).as_posix(), c) for p in DOCS for b in blocks(p, "sh runnable") for c in commands(b)]


def test_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    for needed in ("pip install", "make demo", "make test", "```python", "vitkit.load("):
        assert needed in text
    for link in re.findall(r"\]\((docs/[^)#]+)", text):  # every link to docs/ points at a file
        assert (ROOT / link).is_file(), link
    assert len(RUNNABLE) >= 4


@pytest.mark.parametrize(("doc", "command"), RUNNABLE, ids=[f"{d}: {c}" for d, c in RUNNABLE])
def test_runnable_command_runs_as_written(doc: str, command: str, tmp_path: Path) -> None:
    assert command.startswith("vitkit "), f"{doc}: runnable blocks hold vitkit commands, got {command!r}"
    env = {**os.environ, "VITKIT_OFFLINE": "1", "VITKIT_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "vitkit", *command.split()[1:]]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{doc}: `{command}` exited {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.strip()


def _stand_in(path: Path, *, num_classes: int, zero_head: bool = False) -> str:
    import torch

    import vitkit

    small = dict(hidden_size=32, num_layers=2, num_heads=2, mlp_dim=64)
    model = vitkit.create_model("ViT-B/16", num_classes=num_classes, image_size=64, **small)
    with torch.no_grad():  # a released classifier has a trained head; an ImageNet-21k file a zeroed one
        model.head.weight.copy_(
            torch.zeros_like(model.head.weight) if zero_head else torch.randn_like(model.head.weight)
        )
    vitkit.save(model, str(path))
    return str(path)


def test_readme_python_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = blocks(ROOT / "README.md", "python")
    rng = np.random.default_rng(0)
    for name in ("cat.jpg", "dog.jpg"):
        Image.fromarray(rng.integers(0, 255, (80, 90, 3), dtype=np.uint8)).save(tmp_path / name)
    for label in ("a", "b"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
                tmp_path / f"photos/{label}/{i}.png"
            )
    classifier = _stand_in(tmp_path / "classifier.safetensors", num_classes=7)
    features = _stand_in(tmp_path / "features.safetensors", num_classes=5, zero_head=True)
    stand_ins = {  # the names fetch checkpoints; here small local files take their place
        '"ViT-B/16:imagenet21k+imagenet2012@384"': repr(classifier),
        '"ViT-B/16:imagenet21k@224"': repr(features),
        "image_size=384": "image_size=64",
        "steps=500, batch_size=32": "steps=2, batch_size=4",
    }
    for name, local in stand_ins.items():
        assert name in code, f"README's quick start no longer says {name}"
        code = code.replace(name, local)
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["vectors"].shape == (2, 32)  # type: ignore[attr-defined]
    assert (tmp_path / "runs/ft/final.safetensors").is_file()
