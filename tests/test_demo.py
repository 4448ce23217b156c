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
    out = capsys.readouterr().out
    assert "fine-tuning vs scratch" in out and "paired difference" in out and "95% interval" in out
    # two seeds of fine-tuning and of scratch, the second in its own run folder
    for stage in ("finetune", "scratch"):
        r = results[stage]
        assert r["seeds"] == [0, 1] and len(r["test_top1_per_seed"]) == 2
        assert (tmp_path / "demo" / f"{stage}-seed1" / "final.safetensors").is_file()
        assert r["test_top1_mean"] == pytest.approx(sum(r["test_top1_per_seed"]) / 2)
        assert r["test_top1_std"] >= 0.0
    cmp = results["finetune_vs_scratch"]
    for seed, p in enumerate(cmp["per_seed"]):
        # the per-image recount agrees with the trainer's own evaluation of the same runs
        assert p["n"] == 1000
        assert p["top1_a"] == pytest.approx(results["finetune"]["test_top1_per_seed"][seed], abs=1e-9)
        assert p["top1_b"] == pytest.approx(results["scratch"]["test_top1_per_seed"][seed], abs=1e-9)
        assert p["diff"] == pytest.approx((p["only_a"] - p["only_b"]) / 1000)
    assert cmp["diff"] == pytest.approx(results["finetune"]["test_top1_mean"] - results["scratch"]["test_top1_mean"])
    assert cmp["se"] > 0 and cmp["ci95"][0] < cmp["diff"] < cmp["ci95"][1] and 0.0 <= cmp["p"] <= 1.0
    # fine-tuning used the pre-trained weights at the higher resolution with a new head
    import vitkit

    ft = vitkit.load(tmp_path / "demo" / "finetune")
    assert ft.config.image_size == (32, 32) and ft.classes == [str(i) for i in range(10)]


def test_demo_without_seeds_is_refused_before_any_training(tmp_path, capsys):
    assert main(["demo", "--seeds", "0", "--out", str(tmp_path / "demo")]) != 0
    assert "--seeds: expected at least 1" in capsys.readouterr().err
    assert not (tmp_path / "demo" / "pretrain").exists()
