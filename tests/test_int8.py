"""vitkit quantize: the int8 file's recorded accuracies are the ones measured on the held-out images, a drop
over --max-drop writes nothing, bad calibration sets are one line; the int8 file runs in predict/eval/embed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytest.importorskip("onnxscript")

# NNCF's quantisation in the test process left state behind that crashed later tests when they forked (SIGSEGV in
# a DataLoader or subprocess start), so these run in a process of their own: tests/test_int8_isolated.py.
pytestmark = pytest.mark.skipif(
    __import__("os").environ.get("VITKIT_TEST_CHILD") != "1", reason="run by tests/test_int8_isolated.py"
)

import vitkit  # noqa: E402
from vitkit.cli.main import main  # noqa: E402

CLASSES = ["a", "b"]


def small_classifier(num_classes: int = 2):
    """hidden 64, depth 2, 32 px: quantises and evaluates in seconds."""
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16",
        image_size=32,
        patch_size=8,
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        mlp_dim=128,
        num_classes=num_classes,
    ).eval()
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
    model.info.classes = CLASSES if num_classes == 2 else None
    return model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("int8")
    ckpt = vitkit.save(small_classifier(), root / "m.safetensors")
    vitkit.save(small_classifier(10), root / "m10.safetensors")  # for digits' 10 classes of 8x8 images
    rng = np.random.default_rng(0)
    for k, c in enumerate(CLASSES):  # class b is brighter: something for the model to tell apart
        (root / "data" / c).mkdir(parents=True)
        for i in range(40):
            pixels = rng.integers(0, 160, (32, 32, 3)) + 90 * k
            Image.fromarray(pixels.astype(np.uint8)).save(root / "data" / c / f"{i}.png")
    return root, ckpt


def test_recorded_accuracies_are_the_ones_measured(setup, capsys):
    from vitkit.data import make_loader, open_dataset
    from vitkit.int8.accuracy import compare, predictions
    from vitkit.int8.split import split_indices
    from vitkit.models.transform import transform_for
    from vitkit.onnx.openvino import OpenVinoRunner

    root, ckpt = setup
    out = root / "m.int8.xml"
    args = ["quantize", str(ckpt), str(out), "--calibrate", str(root / "data"), "--samples", "20", "--max-drop", "100"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "top-1 float" in printed and out.is_file() and out.with_suffix(".bin").is_file()
    runner = OpenVinoRunner(out)
    record = runner.info.extra["quantization"]
    assert runner.precision == "int8" and runner.classes == CLASSES and record["calibration_images"] == 20
    # measure again, independently: torch for float, the written file for int8, on the held-out indices
    data = open_dataset(str(root / "data"))
    calib, held = split_indices(len(data), 20, None, seed=0)
    assert record["heldout_images"] == len(held) == 60 and not set(calib) & set(held)
    from vitkit.int8.split import _subset

    loader = make_loader(_subset(data, held, "held"), transform_for(runner), 32, train=False)
    float_pred, labels = predictions(vitkit.load(ckpt), loader)
    int8_pred, _ = predictions(runner, loader)
    again = compare(float_pred, int8_pred, labels)
    assert record["top1_float"] == pytest.approx(again.top1_float)
    assert record["top1_int8"] == pytest.approx(again.top1_int8)
    assert record["drop"] == pytest.approx(again.drop) and record["drop_stderr"] == pytest.approx(again.drop_stderr)
    assert f"{again.top1_float:.2f}%" in printed and f"{again.top1_int8:.2f}%" in printed

    # every command that takes a checkpoint takes the int8 file
    img = root / "data" / "b" / "0.png"
    assert main(["predict", str(out), str(img), "--json", "-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["top"][0]["class"] in CLASSES
    assert main(["eval", str(out), "--data", str(root / "data")]) == 0
    assert "top-1" in capsys.readouterr().out
    assert main(["embed", str(out), str(root / "data"), "-o", str(root / "e.npz")]) == 0
    assert np.load(root / "e.npz")["embeddings"].shape == (80, 64)
    assert main(["predict", str(out), str(img), "--backend", "torch"]) == 2  # an OpenVINO file: one line
    assert "runs with openvino only" in capsys.readouterr().err


def test_images_of_another_size_are_resized_by_the_transform_as_eval_does(setup, tmp_path, capsys):
    root, _ = setup
    out = tmp_path / "m10.xml"  # digits are 8x8, the model takes 32x32
    args = ["quantize", str(root / "m10.safetensors"), str(out), "--calibrate", "digits:train", "--samples", "50"]
    assert main([*args, "--heldout", "200", "--max-drop", "100"]) == 0
    assert "top-1 float" in capsys.readouterr().out and out.is_file()
    assert main(["eval", str(out), "--data", "digits:test"]) == 0


def test_a_drop_over_max_drop_is_refused_and_nothing_written(setup, monkeypatch, capsys):
    import vitkit.int8.quantize as q
    from vitkit.int8.accuracy import Comparison

    root, ckpt = setup
    monkeypatch.setattr(q, "compare", lambda *a: Comparison(60, 90.0, 80.0, 10.0, 3.0, 85.0))
    out = root / "refused" / "m.xml"
    args = ["quantize", str(ckpt), str(out), "--calibrate", str(root / "data"), "--samples", "20", "--max-drop", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1  # progress lines before it, the error last
    last = err.strip().splitlines()[-1]
    assert last.startswith("vitkit quantize: error: --max-drop 1:") and "nothing written" in last
    assert not out.exists() and not out.with_suffix(".bin").exists()
    assert not (root / "refused").exists() or not any((root / "refused").iterdir())


@pytest.mark.parametrize(
    "what, extra, message",
    [
        ("too small", ["--samples", "60"], "too few"),
        ("too few samples", ["--samples", "3"], "--samples 3"),
        ("not .xml", [], "expected a path ending in .xml"),
        ("empty", [], "nothing"),
    ],
)
def test_bad_calibration_sets_are_one_line(setup, tmp_path, capsys, what, extra, message):
    root, ckpt = setup
    data = str(root / "data")
    out = str(tmp_path / "m.xml")
    if what == "not .xml":
        out = str(tmp_path / "m.onnx")
    if what == "empty":
        data = str(tmp_path / "nothing")
        (tmp_path / "nothing").mkdir()
    assert main(["quantize", str(ckpt), out, "--calibrate", data, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vitkit quantize: error: ") and message in err[0], err
    assert not list(tmp_path.glob("*.xml"))
