"""ONNX export: onnxruntime agrees with torch (<= 1e-4) at two batch sizes and, where dynamic, two image
sizes; the file carries config and class names; predict runs it."""

import json

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import vitkit  # noqa: E402
from vitkit.cli.main import main  # noqa: E402
from vitkit.onnx.export import ExportError, export_onnx, verify_onnx  # noqa: E402
from vitkit.onnx.runner import OnnxRunner  # noqa: E402

CLASSES = [f"c{i}" for i in range(5)]


def small(**kw):
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16",
        image_size=16,
        patch_size=4,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        mlp_dim=64,
        num_classes=5,
        **kw,
    ).eval()
    with torch.no_grad():  # the zero-initialised head would make every logit 0 and any export "agree"
        model.head.weight.normal_(0, 0.5)
        model.head.bias.normal_(0, 0.5)
    model.info.classes = CLASSES
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = small()
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "small.onnx")


def test_dynamic_batch_and_size_match_torch(exported):
    model, path = exported
    diffs = verify_onnx(model, path, batch_sizes=(1, 3))
    assert set(diffs) == {"b1 16x16", "b3 16x16", "b1 24x20", "b3 24x20"}
    assert max(diffs.values()) <= 1e-4
    more = verify_onnx(model, path, batch_sizes=(2,), image_sizes=[(8, 32)])  # any multiple of the patch
    assert max(more.values()) <= 1e-4


def test_runner_carries_config_and_classes(exported):
    model, path = exported
    runner = OnnxRunner(path)
    assert runner.config == model.config and runner.classes == CLASSES and runner.output == "logits"
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(runner(x), model(x), atol=1e-4, rtol=0)


def test_static_size_and_embedding_output(tmp_path):
    model = small(posemb="relative")  # attention biases take the explicit-softmax path in the graph
    path = export_onnx(model, tmp_path / "emb.onnx", dynamic_size=False, output="embedding")
    diffs = verify_onnx(model, path)
    assert set(diffs) == {"b1 16x16", "b3 16x16"} and max(diffs.values()) <= 1e-4
    runner = OnnxRunner(path)
    assert runner(torch.zeros(1, 3, 16, 16)).shape == (1, 32)
    with pytest.raises(Exception):  # noqa: B017 -- onnxruntime's own error type: the graph is for 16 x 16 only
        runner(torch.zeros(1, 3, 24, 24))


def test_verify_catches_a_mismatch(exported):
    model, path = exported
    other = small()
    with torch.no_grad():
        other.head.bias.add_(1.0)
    with pytest.raises(ExportError, match="differs"):
        verify_onnx(other, path)


def test_cli_export_then_predict_with_either_backend(tmp_path, capsys):
    from PIL import Image

    model = small()
    ckpt = vitkit.save(model, tmp_path / "m.safetensors")
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), str(onnx_path)]) == 0
    out = capsys.readouterr().out
    assert "verified against torch" in out and "b3 24x20" in out
    img = tmp_path / "img.png"
    Image.fromarray((torch.rand(20, 20, 3) * 255).byte().numpy()).save(img)
    results = {}
    for name, args in {
        "torch": [str(ckpt)],
        "onnx-file": [str(onnx_path)],
        "exported": [str(ckpt), "--backend", "onnxruntime"],
    }.items():
        assert main(["predict", *args, str(img), "--json", "-k", "2"]) == 0
        results[name] = json.loads(capsys.readouterr().out)[0]["top"]
    for name in ("onnx-file", "exported"):
        assert [t["class"] for t in results[name]] == [t["class"] for t in results["torch"]]
        assert results[name][0]["prob"] == pytest.approx(results["torch"][0]["prob"], abs=1e-4)
    assert main(["predict", str(onnx_path), str(img), "--backend", "torch"]) == 2


def test_embed_with_onnxruntime_matches_torch(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    ckpt = vitkit.save(small(), tmp_path / "m.safetensors")
    for c in ("a", "b"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((np.random.rand(20, 20, 3) * 255).astype(np.uint8)).save(tmp_path / "data" / c / f"{i}.png")
    data = str(tmp_path / "data")
    assert main(["embed", str(ckpt), data, "-o", str(tmp_path / "torch.npz")]) == 0
    assert main(["embed", str(ckpt), data, "-o", str(tmp_path / "ort.npz"), "--backend", "onnxruntime"]) == 0
    want, got = (np.load(tmp_path / f)["embeddings"] for f in ("torch.npz", "ort.npz"))
    assert want.shape == (4, 32) and np.abs(want - got).max() <= 1e-4
    logits_graph = export_onnx(small(), tmp_path / "logits.onnx")
    assert main(["embed", str(logits_graph), data, "-o", str(tmp_path / "x.npz")]) == 2  # not an embedding graph
    assert "not embedding" in capsys.readouterr().err
