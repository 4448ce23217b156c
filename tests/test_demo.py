"""The main job's pipeline, at a seconds-long budget (the real figures are in README, by `make demo`)."""

import json
import shutil
from pathlib import Path

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


NO_MPP_32 = ["demo", "--quick", "--no-mpp", "--seeds", "1", "--finetune-size", "32"]


@pytest.fixture(scope="module")
def no_mpp_demo(tmp_path_factory, fashion_mnist):
    out = tmp_path_factory.mktemp("no-mpp") / "demo"
    assert main([*NO_MPP_32, "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_demo_without_mpp_and_at_another_size(no_mpp_demo, capsys):
    out = no_mpp_demo
    results = json.loads((out / "results.json").read_text())
    assert "pretrain_mpp" not in results and "finetune_mpp" not in results and not (out / "pretrain-mpp").exists()
    assert results["config"]["mpp"] is False
    import vitkit

    assert vitkit.load(out / "scratch").config.image_size == (32, 32)


def _train_rows(run: Path) -> list[str]:
    return [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' in line]


@pytest.mark.slow
def test_demo_run_again_goes_on_where_it_stopped(no_mpp_demo, tmp_path, capsys):
    out = tmp_path / "demo"
    shutil.copytree(no_mpp_demo, out)
    for run in ("pretrain", "finetune", "scratch"):  # the copy's runs point at the copy's pre-training
        config = json.loads((out / run / "config.json").read_text())
        config["init"] = config["init"] and str(out / "pretrain")
        config["out"] = str(out / run)
        (out / run / "config.json").write_text(json.dumps(config))
    first = json.loads((out / "results.json").read_text())
    rows = {run: _train_rows(out / run) for run in ("pretrain", "finetune", "scratch")}
    # scratch was killed after its last checkpoint was written, before it was recorded as finished
    (out / "scratch" / "stage.json").unlink()
    capsys.readouterr()
    assert main([*NO_MPP_32, "--out", str(out)]) == 0
    again = json.loads((out / "results.json").read_text())
    err = capsys.readouterr().err
    assert f"resumed {out / 'scratch'} at step 6/6" in err and err.count("resumed ") == 1  # only scratch
    for run in ("pretrain", "finetune", "scratch"):
        assert _train_rows(out / run) == rows[run]  # not one step trained again
        assert again[run]["test_top1"] == first[run]["test_top1"]  # the same runs, evaluated the same
    assert again["finetune_vs_scratch"]["diff"] == first["finetune_vs_scratch"]["diff"]
    assert (out / "scratch" / "stage.json").is_file()
    # other settings in the same folder: refused in one line, nothing overwritten
    assert main([*NO_MPP_32[:-1], "40", "--out", str(out)]) != 0
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and f"{out / 'finetune'} holds a run with other settings (image_size)" in message
    assert json.loads((out / "finetune" / "config.json").read_text())["image_size"] == 32


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
