"""The main job's pipeline, at a seconds-long budget (`vitkit demo --quick`; the real figures: docs/demo.md)."""

import json
import shutil
from pathlib import Path

import pytest

from vitkit.cli.main import main
from vitkit.data import DataError, open_dataset

MNIST_RUNS = {"finetune-mpp": (0, 1), "scratch": (0, 1)}  # fine-tuning and scratch, two seeds each


@pytest.fixture(scope="module")
def fashion_mnist():
    try:
        open_dataset("fashion-mnist:test")
    except DataError as e:
        pytest.skip(f"fashion-mnist not installed: {e}")


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory, fashion_mnist):
    """The quick demo in its default form: two one-thread worker processes sharing the grid, two seeds."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_demo_quick_runs_every_stage(quick_demo, capsys):
    out = quick_demo
    report = json.loads((out / "results.json").read_text())
    runs = report["runs"]
    assert 0.0 <= runs["pretrain"]["per_seed"][0]["top1"] <= 1.0 and not runs["pretrain"]["seeded"]
    # masked-patch pre-training: its own run, no labels, so a masked-patch accuracy instead of a test
    mpp = runs["pretrain-mpp"]["per_seed"][0]
    assert 0.0 <= mpp["mpp_top1"] <= 1.0 and "top1" not in mpp
    assert json.loads((out / "pretrain-mpp/s0/config.json").read_text())["recipe"]["objective"] == "mpp"
    for name, seeds in MNIST_RUNS.items():  # each seed of each MNIST-5k run in its own run folder
        assert [r["seed"] for r in runs[name]["per_seed"]] == list(seeds)
        for seed in seeds:
            assert (out / name / f"s{seed}" / "final.safetensors").is_file()
    assert set(report["comparisons"]) == {"finetune-mpp vs scratch"}
    cmp = report["comparisons"]["finetune-mpp vs scratch"]
    assert len(cmp["per_seed"]) == 2
    for seed, p in enumerate(cmp["per_seed"]):  # seed s of fine-tuning paired with seed s of scratch
        # the per-image recount agrees with the trainer's own evaluation of the same runs
        assert p["n"] == 1000
        assert p["top1_a"] == pytest.approx(runs["finetune-mpp"]["per_seed"][seed]["top1"], abs=1e-9)
        assert p["top1_b"] == pytest.approx(runs["scratch"]["per_seed"][seed]["top1"], abs=1e-9)
        assert p["diff"] == pytest.approx((p["only_a"] - p["only_b"]) / 1000)
    assert cmp["se"] > 0 and cmp["ci95"][0] < cmp["diff"] < cmp["ci95"][1] and 0.0 <= cmp["p"] <= 1.0
    assert len(report["targets"]) == 3 and all(t["met"] in (True, False) for t in report["targets"])
    # fine-tuning used the pre-trained weights at the higher resolution with a new head
    import vitkit

    ft = vitkit.load(out / "finetune-mpp" / "s0")
    assert ft.config.image_size == (56, 56) and ft.config.patch_size == (7, 7)
    assert ft.classes == [str(i) for i in range(10)]
    assert json.loads((out / "finetune-mpp/s1/config.json").read_text())["init"] == str(out / "pretrain-mpp" / "s0")


def _train_rows(run: Path) -> list[str]:
    return [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' in line]


@pytest.mark.slow
def test_demo_run_again_goes_on_where_it_stopped(quick_demo, tmp_path, capsys):
    out = tmp_path / "demo"
    shutil.copytree(quick_demo, out)
    for config_path in out.glob("*/s*/config.json"):  # the copy's runs point at the copy's pre-trainings
        config = json.loads(config_path.read_text())
        config["init"] = config["init"] and config["init"].replace(str(quick_demo), str(out))
        config["out"] = str(config_path.parent)
        config_path.write_text(json.dumps(config))
    first = json.loads((out / "results.json").read_text())
    folders = [out / name / f"s{s}" for name, seeds in MNIST_RUNS.items() for s in seeds] + [out / "pretrain" / "s0"]
    rows = {f: _train_rows(f) for f in folders}
    # fine-tuning seed 1 was killed after its last checkpoint was written, before it was recorded as finished
    (out / "finetune-mpp/s1/result.json").unlink()
    capsys.readouterr()
    assert main(["demo", "--quick", "--out", str(out), "--workers", "1"]) == 0
    again = json.loads((out / "results.json").read_text())
    err = capsys.readouterr().err
    assert f"resumed {out / 'finetune-mpp' / 's1'} at step 6/6" in err and err.count("resumed ") == 1  # that run only
    for folder in folders:
        assert _train_rows(folder) == rows[folder]  # not one step trained again
    for run in MNIST_RUNS:
        assert again["runs"][run]["summary"]["top1"] == first["runs"][run]["summary"]["top1"]
    name = "finetune-mpp vs scratch"
    assert again["comparisons"][name]["diff"] == first["comparisons"][name]["diff"]
    # a folder that holds a run with other settings: refused in one line, nothing overwritten
    config_path = out / "finetune-mpp/s0/config.json"
    config = json.loads(config_path.read_text())
    config["image_size"] = 32
    config_path.write_text(json.dumps(config))
    (out / "finetune-mpp/s0/result.json").unlink()
    assert main(["demo", "--quick", "--out", str(out), "--workers", "1"]) != 0
    message = capsys.readouterr().err.strip()
    assert (
        message.count("\n") == 0
        and f"{out / 'finetune-mpp' / 's0'} holds a run with other settings (image_size)" in message
    )
    assert json.loads(config_path.read_text())["image_size"] == 32


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "0"], "argument --seeds: expected a whole number > 0, got '0'"),
        (["--workers", "-1"], "argument --workers: expected a whole number > 0, got '-1'"),
    ],
)
def test_bad_demo_options_are_refused_before_any_training(tmp_path, capsys, args, message):
    assert main(["demo", *args, "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not (tmp_path / "demo").exists()
