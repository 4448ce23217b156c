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
def test_demo_quick_runs_every_stage(tmp_path, capsys, fashion_mnist):
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    results = json.loads((tmp_path / "demo" / "results.json").read_text())
    for stage in ("pretrain", "finetune", "finetune_mpp", "scratch"):
        assert 0.0 <= results[stage]["test_top1"] <= 1.0
        assert (tmp_path / "demo" / stage.replace("_", "-") / "final.safetensors").is_file()
    # masked-patch pre-training: its own run, no labels, so a masked-patch accuracy instead of a test
    assert 0.0 <= results["pretrain_mpp"]["mpp_top1"] <= 1.0 and "test_top1" not in results["pretrain_mpp"]
    assert json.loads((tmp_path / "demo" / "pretrain-mpp" / "config.json").read_text())["recipe"]["objective"] == "mpp"
    assert results["seconds"] > 0
    out = capsys.readouterr().out
    assert "fine-tuning vs scratch" in out and "paired difference" in out and "95% interval" in out
    assert "MPP fine-tuning vs scratch" in out and "MPP fine-tuning vs fine-tuning" in out
    assert {"finetune_mpp_vs_scratch", "finetune_mpp_vs_finetune"} <= set(results)
    # two seeds of each MNIST-5k run, the second in its own run folder
    for stage in ("finetune", "finetune_mpp", "scratch"):
        r = results[stage]
        assert r["seeds"] == [0, 1] and len(r["test_top1_per_seed"]) == 2
        assert (tmp_path / "demo" / f"{stage.replace('_', '-')}-seed1" / "final.safetensors").is_file()
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
    assert ft.config.image_size == (40, 40) and ft.classes == [str(i) for i in range(10)]
    mpp_ft = json.loads((tmp_path / "demo" / "finetune-mpp" / "config.json").read_text())
    assert mpp_ft["init"] == str(tmp_path / "demo" / "pretrain-mpp")


@pytest.mark.slow
def test_demo_without_mpp_and_at_another_size(tmp_path, capsys, fashion_mnist):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--no-mpp", "--seeds", "1", "--finetune-size", "32", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert "pretrain_mpp" not in results and "finetune_mpp" not in results and not (out / "pretrain-mpp").exists()
    assert results["config"]["mpp"] is False and "MPP" not in capsys.readouterr().out
    import vitkit

    assert vitkit.load(out / "scratch").config.image_size == (32, 32)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "0"], "--seeds: expected at least 1"),
        (["--finetune-size", "30"], "--finetune-size: expected a multiple of the 4 px patch"),
    ],
)
def test_bad_demo_options_are_refused_before_any_training(tmp_path, capsys, args, message):
    assert main(["demo", *args, "--out", str(tmp_path / "demo")]) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "demo" / "pretrain").exists()
