"""vitkit reproduces the official JAX code's outputs on its own checkpoints (../shared/fixtures/official)."""

import numpy as np
import pytest
import torch

import vitkit

VIT_FIXTURES = ["vit_token_p4_32", "vit_token_rep32_p4_32", "vit_gap_p4_32", "vit_token_p4_48_ft_from_32"]
ALL_FIXTURES = VIT_FIXTURES + ["hybrid_r2x1_w05_p1_64"]
ATOL = 1e-5


def run(fixtures_dir, name, layout):
    model = vitkit.load(fixtures_dir / f"{name}.{layout}.npz")
    io = np.load(fixtures_dir / f"{name}.io.npz")
    x = torch.from_numpy(io["inputs"]).permute(0, 3, 1, 2)
    with torch.no_grad():
        return model, model.forward_intermediates(x), io


def nhwc(t):
    return t.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("layout", ["params", "params_prelinen"])
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_logits_and_pre_logits(fixtures_dir, name, layout):
    model, out, io = run(fixtures_dir, name, layout)
    np.testing.assert_allclose(out["logits"].numpy(), io["logits"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(out["pre_logits"].numpy(), io["pre_logits"], atol=ATOL, rtol=0)
    x = torch.from_numpy(io["inputs"]).permute(0, 3, 1, 2)
    with torch.no_grad():  # the fused fast path agrees with the intermediates path
        np.testing.assert_allclose(model(x).numpy(), io["logits"], atol=ATOL, rtol=0)
        np.testing.assert_allclose(model.embed(x).numpy(), io["pre_logits"], atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_intermediates(fixtures_dir, name):
    _, out, io = run(fixtures_dir, name, "params")
    np.testing.assert_allclose(nhwc(out["embedding"]), io["intermediates/embedding"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(
        out["posembed_input"].numpy(), io["intermediates/Transformer/posembed_input"], atol=ATOL, rtol=0
    )
    for i, block in enumerate(out["blocks"]):
        np.testing.assert_allclose(block.numpy(), io[f"intermediates/Transformer/encoderblock_{i}"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(out["encoded"].numpy(), io["intermediates/Transformer/encoder_norm"], atol=ATOL, rtol=0)
    for key in ("conv_root", "gn_root", "block1", "block2"):
        if f"intermediates/{key}" in io.files:
            np.testing.assert_allclose(nhwc(out[key]), io[f"intermediates/{key}"], atol=5e-5, rtol=0)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_inferred_architecture(fixtures_dir, name):
    import json

    manifest = json.loads((fixtures_dir / "manifest.json").read_text())["files"][name]["config"]
    cfg = vitkit.read_checkpoint(fixtures_dir / f"{name}.params.npz").config
    assert cfg.hidden_size == manifest["hidden_size"]
    assert cfg.num_layers == manifest["transformer"]["num_layers"]
    assert cfg.num_heads == manifest["transformer"]["num_heads"]
    assert cfg.mlp_dim == manifest["transformer"]["mlp_dim"]
    assert cfg.classifier == manifest["classifier"]
    assert cfg.representation_size == manifest["representation_size"]
    assert list(cfg.patch_size) == list(manifest["patches"]["size"])
    io = np.load(fixtures_dir / f"{name}.io.npz")
    assert cfg.image_size == io["inputs"].shape[1:3]
    assert cfg.num_classes == io["logits"].shape[1]
    if "resnet" in manifest:
        assert cfg.resnet.num_layers == tuple(manifest["resnet"]["num_layers"])
        assert cfg.resnet.width_factor == manifest["resnet"]["width_factor"]


@pytest.mark.parametrize("layout", ["params", "params_prelinen"])
def test_finetune_resize_reproduces_official_load_pretrained(fixtures_dir, layout):
    """Fixture (e): official load_pretrained of (a) at 48 px -> bilinear align_corners posemb resize."""
    model = vitkit.load(fixtures_dir / f"vit_token_p4_32.{layout}.npz", image_size=48, num_classes=5)
    ref = np.load(fixtures_dir / "vit_token_p4_48_ft_from_32.params.npz")
    np.testing.assert_allclose(
        model.pos_embed.weight.detach().numpy(), ref["Transformer/posembed_input/pos_embedding"], atol=1e-6, rtol=0
    )
    assert model.config.image_size == (48, 48) and model.config.num_classes == 5
    assert torch.count_nonzero(model.head.weight) == 0 and torch.count_nonzero(model.head.bias) == 0
    # every other tensor is (a)'s, unchanged, as the official code asserts
    a = vitkit.load(fixtures_dir / f"vit_token_p4_32.{layout}.npz")
    for key, value in a.state_dict().items():
        if not key.startswith(("pos_embed", "head")):
            assert torch.equal(value, model.state_dict()[key]), key
    # and with (e)'s fresh head put back, the logits are the official ones
    e = vitkit.load(fixtures_dir / "vit_token_p4_48_ft_from_32.params.npz")
    model.head.load_state_dict(e.head.state_dict())
    io = np.load(fixtures_dir / "vit_token_p4_48_ft_from_32.io.npz")
    with torch.no_grad():
        logits = model(torch.from_numpy(io["inputs"]).permute(0, 3, 1, 2))
    np.testing.assert_allclose(logits.numpy(), io["logits"], atol=ATOL, rtol=0)


def test_bicubic_resize_differs_but_keeps_class_row(fixtures_dir):
    bil = vitkit.load(fixtures_dir / "vit_token_p4_32.params.npz", image_size=48)
    bic = vitkit.load(fixtures_dir / "vit_token_p4_32.params.npz", image_size=48, resize="bicubic")
    assert torch.equal(bil.pos_embed.weight[:, 0], bic.pos_embed.weight[:, 0])
    assert not torch.allclose(bil.pos_embed.weight[:, 1:], bic.pos_embed.weight[:, 1:])
    # corners are kept by align_corners in both modes
    a = vitkit.load(fixtures_dir / "vit_token_p4_32.params.npz")
    grid_a = a.pos_embed.weight[0, 1:].reshape(8, 8, -1)
    grid_b = bic.pos_embed.weight[0, 1:].reshape(12, 12, -1)
    torch.testing.assert_close(grid_b[0, 0], grid_a[0, 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(grid_b[-1, -1], grid_a[-1, -1], atol=1e-6, rtol=0)
