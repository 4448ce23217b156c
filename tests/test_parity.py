"""Same weights, same logits: vitkit vs timm and Hugging Face transformers (random weights, converted)."""

import json
from functools import partial

import pytest
import torch
from safetensors.torch import save_file

import vitkit

timm = pytest.importorskip("timm")
ATOL = 1e-5


def randomise(model, scale=0.02):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * scale)
    return model.eval()


def compare(ours, theirs, x, atol=ATOL):
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    if hasattr(b, "logits"):
        b = b.logits
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "vit_small_patch16_224"])
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_timm_vit(tmp_path, name, suffix):
    ref = randomise(timm.create_model(name, pretrained=False, num_classes=7))
    path = tmp_path / f"model{suffix}"
    sd = {k: v.contiguous() for k, v in ref.state_dict().items()}
    save_file(sd, path) if suffix == ".safetensors" else torch.save(sd, path)
    ours = vitkit.load(path)
    assert ours.config.gelu == "exact" and ours.config.num_classes == 7
    compare(ours, ref, torch.randn(2, 3, 224, 224))


def test_timm_hybrid(tmp_path):
    from timm.layers import StdConv2dSame
    from timm.models.resnetv2 import ResNetV2
    from timm.models.vision_transformer import VisionTransformer
    from timm.models.vision_transformer_hybrid import HybridEmbed

    backbone = ResNetV2(
        layers=(2, 1),
        num_classes=0,
        global_pool="",
        preact=False,
        stem_type="same",
        conv_layer=partial(StdConv2dSame, eps=1e-8),
    )
    ref = VisionTransformer(
        img_size=64,
        patch_size=1,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=2,
        num_classes=10,
        embed_layer=partial(HybridEmbed, backbone=backbone),
    )
    ref = randomise(ref)
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, tmp_path / "hybrid.safetensors")
    ours = vitkit.load(tmp_path / "hybrid.safetensors", num_heads=4)  # heads are not in the tensors
    assert ours.config.resnet.num_layers == (2, 1) and ours.config.image_size == (64, 64)
    compare(ours, ref, torch.randn(2, 3, 64, 64))


@pytest.mark.parametrize("pooler", [False, True])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_transformers_vit(tmp_path, pooler, attn):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.ViTConfig(
        image_size=32,
        patch_size=4,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=5,
        id2label={i: f"c{i}" for i in range(5)},
        label2id={f"c{i}": i for i in range(5)},
        attn_implementation=attn,
    )
    if pooler:
        ref = transformers.ViTModel(cfg, add_pooling_layer=True)
    else:
        ref = transformers.ViTForImageClassification(cfg)
    ref = randomise(ref)
    ref.save_pretrained(tmp_path / "hf")
    ours = vitkit.load(tmp_path / "hf")
    x = torch.randn(2, 3, 32, 32)
    if pooler:
        with torch.no_grad():
            torch.testing.assert_close(ours.embed(x), ref(pixel_values=x).pooler_output, atol=ATOL, rtol=1e-4)
            torch.testing.assert_close(
                ours.forward_features(x), ref(pixel_values=x).last_hidden_state, atol=ATOL, rtol=1e-4
            )
    else:
        assert ours.classes == [f"c{i}" for i in range(5)]
        with torch.no_grad():
            torch.testing.assert_close(ours(x), ref(pixel_values=x).logits, atol=ATOL, rtol=1e-4)
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "vit"
