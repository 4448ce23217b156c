"""The main job's pipeline, at a seconds-long budget (the real figures are in README, by `make demo`)."""

import json

import pytest

from vitkit.cli.main import main
from vitkit.data import DataError, open_dataset


@pytest.fixture(scope="module")
def fashion_mnist():
    try:
        open_dataset("fashion-mnist:test")
    except DataError as e:
        pytest.skip(f"fashion-mnist not installed: {e}")


@pytest.mark.slow
def test_demo_quick_runs_all_three_stages(tmp_path, capsys, fashion_mnist):
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    results = json.loads((tmp_path / "demo" / "results.json").read_text())
    for stage in ("pretrain", "finetune", "scratch"):
        assert 0.0 <= results[stage]["test_top1"] <= 1.0
        assert (tmp_path / "demo" / stage / "final.safetensors").is_file()
    assert results["seconds"] > 0
    assert "fine-tuning vs scratch" in capsys.readouterr().out
    # fine-tuning used the pre-trained weights at the higher resolution with a new head
    import vitkit

    ft = vitkit.load(tmp_path / "demo" / "finetune")
    assert ft.config.image_size == (32, 32) and ft.classes == [str(i) for i in range(10)]
