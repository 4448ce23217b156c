"""The declared model interface: every model kind carries ``config`` and ``info`` (``ModelInfo``) from
construction, ``vitkit.load`` fills ``info``, names stay truthful, and ``classes`` is read-only."""

from __future__ import annotations

import pytest
import torch

import vitkit
from vitkit import ImageModel, ModelInfo
from vitkit.models.trainable import TrainableModel
from vitkit.train.mpp import MPPModel

TINY = dict(patch_size=4, hidden_size=32, num_layers=1, num_heads=2, mlp_dim=64, image_size=16, num_classes=3)


def test_every_model_kind_declares_info_at_construction_and_satisfies_the_protocol(tmp_path):
    vit = vitkit.create_model("ViT-B/16", num_classes=10)
    bit = vitkit.create_model("BiT-R50x1", num_classes=10)
    mpp = MPPModel(vitkit.create_model("ViT-Ti/16", **TINY), (0.5,) * 3, (0.5,) * 3)
    for model, name in [(vit, "ViT-B/16"), (bit, "BiT-R50x1"), (mpp, "ViT-Ti/16 (hidden_size=32, num_layers=1, ")]:
        assert isinstance(model, ImageModel), type(model)
        assert isinstance(model, TrainableModel), type(model)  # what the trainer calls: declared, not probed
        assert isinstance(model.info, ModelInfo) and model.info.name.startswith(name), model.info
        assert model.info.classes is None and model.info.source is None and model.classes is None
    x = torch.randn(2, 3, 32, 32)
    assert bit.embed(x).shape == (2, 2048)  # BiT's representation: the pooled features before the head
    torch.testing.assert_close(bit.embed(x), bit.forward_head(bit.forward_features(x), pre_logits=True))
    tiny = mpp.vit
    torch.testing.assert_close(mpp.embed(torch.zeros(1, 3, 16, 16)), tiny.embed(torch.zeros(1, 3, 16, 16)))
    assert mpp.info is tiny.info and mpp.config is tiny.config


def test_the_training_interface_of_each_model_kind():
    vit = vitkit.create_model("ViT-Ti/16", **TINY)
    bit = vitkit.create_model("BiT-R50x1", resnet=vitkit.ResNetConfig((1,), 0.5, unit="pre_act"), num_classes=3)
    mpp = MPPModel(vitkit.create_model("ViT-Ti/16", **TINY), (0.5,) * 3, (0.5,) * 3)
    assert vit.fsdp_units() == list(vit.blocks) and mpp.fsdp_units() == list(mpp.vit.blocks)
    assert bit.fsdp_units() == []  # one unit: the whole model
    assert bit.no_weight_decay() == set() and "vit.cls_token" in mpp.no_weight_decay()
    for model in (vit, bit, mpp):
        model.set_grad_checkpointing(True)
    assert vit.grad_checkpointing and bit.body.grad_checkpointing and mpp.vit.grad_checkpointing
    mpp.reset_classifier(5)  # the ViT's head, frozen as before: masked patch prediction does not train it
    assert mpp.vit.head.out_features == 5 and not any(p.requires_grad for p in mpp.vit.head.parameters())


@pytest.mark.slow
def test_onnx_runner_satisfies_the_protocol(tmp_path):
    pytest.importorskip("onnxruntime")
    from vitkit.onnx.export import export_onnx
    from vitkit.onnx.runner import OnnxRunner

    model = vitkit.create_model("ViT-Ti/16", **TINY)
    model.info.classes = ["a", "b", "c"]
    runner = OnnxRunner(export_onnx(model, tmp_path / "m.onnx", output="embedding"))
    assert isinstance(runner, ImageModel)
    assert runner.info.classes == ["a", "b", "c"] and runner.classes == ["a", "b", "c"]
    assert runner.info.source == str(tmp_path / "m.onnx") and runner.info.name == model.info.name


def test_names_stay_truthful_after_overrides_and_resizing():
    model = vitkit.create_model("ViT-B/16", num_classes=10)
    model.set_image_size(384)  # a ViT-B/16 at 384 px is still a ViT-B/16 (the paper's fine-tuning)
    model.reset_classifier(5)
    assert model.info.name == "ViT-B/16"
    small = vitkit.create_model("ViT-Ti/16", **TINY)
    assert small.info.name == "ViT-Ti/16 (hidden_size=32, num_layers=1, mlp_dim=64, num_heads=2, patch_size=4)"
    small.set_image_size(32)
    assert small.info.name.startswith("ViT-Ti/16 (hidden_size=32,")
    assert vitkit.build_model(vitkit.ViTConfig(hidden_size=32, num_heads=2, mlp_dim=64)).info.name == "ViT"


def test_load_fills_info_and_save_writes_it_back(tmp_path):
    model = vitkit.create_model("ViT-Ti/16", **TINY)
    model.info.classes = ["cat", "dog", "eel"]
    model.info.transform = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    model.info.extra = {"note": "hand-made"}
    path = vitkit.save(model, tmp_path / "m.safetensors")
    back = vitkit.load(path)
    assert back.info == ModelInfo(
        model.info.name, ["cat", "dog", "eel"], model.info.transform, str(path), {"note": "hand-made"}
    )
    assert back.classes == ["cat", "dog", "eel"]
    with pytest.raises(AttributeError):
        back.classes = ["x"]  # read-only: info.classes is the one place class names live
    fresh = vitkit.load(path, num_classes=7)  # a new head: the old class names no longer apply
    assert fresh.info.classes is None and fresh.info.transform == model.info.transform


def test_a_checkpoint_written_before_model_info_still_loads(tmp_path):
    """Files carry what they always carried (``classes`` and ``extra`` with the transform in the metadata)."""
    from vitkit.checkpoint.native import save_state

    model = vitkit.create_model("ViT-Ti/16", **TINY)
    path = save_state(
        model.state_dict(),
        model.config,
        tmp_path / "old.safetensors",
        classes=["a", "b", "c"],
        extra={"transform": {"image_size": [16, 16]}, "run": "x"},
    )
    back = vitkit.load(path)
    assert back.classes == ["a", "b", "c"] and back.info.transform == {"image_size": [16, 16]}
    assert back.info.extra == {"run": "x"}
