"""The server's engine in process: the onnxruntime backend gives the torch backend's probabilities, a bare
``.onnx`` file serves classes but says 501 for embeddings and attention, the view box follows the crop."""

import time

import pytest
import torch

import vitkit
from vitkit.data import TransformConfig
from vitkit.serve.engine import Engine
from vitkit.serve.errors import RequestError

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16", image_size=16, patch_size=4, hidden_size=32, num_layers=2, num_heads=2, mlp_dim=64, num_classes=5
    )
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("engine") / "m.safetensors"
    vitkit.save(model, path, classes=list("abcde"))
    return path


@pytest.mark.slow
def test_onnxruntime_backend_matches_torch_and_a_bare_onnx_file_refuses_what_it_cannot(ckpt, tmp_path):
    x = torch.randn(3, 3, 16, 16)
    torch_engine = Engine(ckpt, backend="torch")
    ort_engine = Engine(ckpt, backend="onnxruntime")
    assert torch_engine.backend == "torch" and ort_engine.backend == "onnxruntime"
    torch.testing.assert_close(ort_engine.probabilities(x), torch_engine.probabilities(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(ort_engine.embeddings(x), torch_engine.embeddings(x), atol=1e-5, rtol=0)
    assert ort_engine.classes == list("abcde") and len(ort_engine.rollout_layers(x)) == 3
    # /v1/model names the model truthfully (ModelInfo), whichever backend runs it
    name = torch_engine.info()["name"]
    assert name.startswith("ViT-Ti/16 (") and "hidden_size=32" in name and ort_engine.info()["name"] == name

    from vitkit.onnx.export import export_onnx

    onnx = export_onnx(vitkit.load(ckpt), tmp_path / "m.onnx")
    bare = Engine(onnx)
    torch.testing.assert_close(bare.probabilities(x), torch_engine.probabilities(x), atol=1e-5, rtol=0)
    assert bare.classes == list("abcde") and not bare.info()["attention"] and not bare.info()["embeddings"]
    for call in (bare.embeddings, bare.rollout_layers):
        with pytest.raises(RequestError) as err:
            call(x)
        assert err.value.status == 501


def test_view_box_is_the_centre_crop_of_the_eval_transform(ckpt):
    engine = Engine(ckpt, backend="torch")
    assert engine.view_box(40, 20) == {"top": 0.0, "left": 0.0, "height": 1.0, "width": 1.0}  # crop_pct 1: resize
    engine.transform_config = TransformConfig(image_size=16, crop_pct=0.5)  # resize the short side to 32, crop 16
    box = engine.view_box(40, 20)  # -> 64 x 32, crop 16 x 16 in the middle
    assert box == pytest.approx({"top": 0.25, "left": 0.375, "height": 0.5, "width": 0.25})


def test_before_warm_up_healthz_and_the_api_answer_503(ckpt):
    from fastapi.testclient import TestClient

    from vitkit.serve.app import create_app

    client = TestClient(create_app(Engine(ckpt, backend="torch")))  # outside `with`: the lifespan never ran
    res = client.get("/healthz")
    assert res.status_code == 503 and res.json() == {"status": "warming up"}
    res = client.post("/v1/predict", files=[("image", ("a.png", b"\x89PNG"))])
    assert res.status_code == 503 and "still loading" in res.json()["error"]
    with TestClient(create_app(Engine(ckpt, backend="torch"))) as ready:  # lifespan: load, warm up
        for _ in range(200):
            if ready.get("/healthz").status_code == 200:
                break
            time.sleep(0.05)
        assert ready.get("/healthz").json() == {"status": "ready"}
