"""The BiT ResNet against the official JAX code, timm, and hand-written references."""

from __future__ import annotations

import math
import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitkit.models.config import BiTConfig, ResNetConfig
from vitkit.models.resnet import (
    BiTResNet,
    PaddedMaxPool2d,
    PreActBottleneck,
    ResNetBody,
    StdConv2d,
    same_tf_pads,
    standardize_weight,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "official"
HYBRID = "hybrid_r2x1_w05_p1_64"


def _randomize_norms(model: torch.nn.Module, seed: int = 0) -> None:
    # Default GN params (1, 0) and zero-init gn3 would hide a swapped scale/bias or a skipped branch.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))


# --- official JAX conformance -------------------------------------------------------------------


def _official_resnet_state_dict(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """``conv_root/kernel``, ``block{i}/unit{j}/gn1/scale``...
    -> ``conv_root.weight``, ``stages.{i-1}.units.{j-1}.gn1.weight``."""
    out = {}
    for key, value in params.items():
        parts = key.split("/")
        if parts[0] in ("conv_root", "gn_root"):
            module = parts[0]
        elif re.fullmatch(r"block\d+", parts[0]):
            module = f"stages.{int(parts[0][5:]) - 1}.units.{int(parts[1][4:]) - 1}.{parts[2]}"
        else:
            continue  # the ViT part
        leaf = {"kernel": "weight", "scale": "weight", "bias": "bias"}[parts[-1]]
        value = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value.reshape(-1)  # HWIO -> OIHW
        out[f"{module}.{leaf}"] = torch.from_numpy(np.ascontiguousarray(value))
    return out


@pytest.mark.skipif(not (FIXTURES / f"{HYBRID}.io.npz").exists(), reason=f"official fixtures not found in {FIXTURES}")
def test_post_act_body_matches_official_hybrid():
    params = dict(np.load(FIXTURES / f"{HYBRID}.params.npz"))
    io = np.load(FIXTURES / f"{HYBRID}.io.npz")
    body = ResNetBody(ResNetConfig(num_layers=(2, 1), width_factor=0.5)).eval()
    body.load_state_dict(_official_resnet_state_dict(params), strict=True)

    with torch.no_grad():
        out, feats = body.forward_intermediates(torch.from_numpy(io["inputs"]).permute(0, 3, 1, 2))
    assert list(feats) == ["conv_root", "gn_root", "block1", "block2"]
    for name, got in feats.items():
        want = torch.from_numpy(io[f"intermediates/{name}"]).permute(0, 3, 1, 2)
        torch.testing.assert_close(got, want, atol=5e-5, rtol=0, msg=lambda m, n=name: f"{n}: {m}")
    torch.testing.assert_close(out, feats["block2"], atol=0, rtol=0)


# --- TF SAME padding ----------------------------------------------------------------------------


def test_same_tf_pads_match_the_official_examples():
    # The fixture README's worked examples: conv_root on 64, max-pool on 32, 3x3/2 conv on 16.
    assert same_tf_pads(64, 7, 2) == (2, 3)
    assert same_tf_pads(32, 3, 2) == (0, 1)
    assert same_tf_pads(16, 3, 2) == (0, 1)
    assert same_tf_pads(5, 1, 2) == (0, 0)


@pytest.mark.parametrize("kernel", [3, 7])
@pytest.mark.parametrize("size", [63, 64, 65])
def test_std_conv_same_tf_stride_2(size, kernel):
    torch.manual_seed(size + kernel)
    conv = StdConv2d(2, 4, kernel, stride=2, padding="same_tf")
    x = torch.randn(1, 2, size, size + 1)
    y = conv(x)
    assert y.shape[-2:] == (math.ceil(size / 2), math.ceil((size + 1) / 2))

    def split(n):
        total = max((math.ceil(n / 2) - 1) * 2 + kernel - n, 0)
        return total // 2, total - total // 2

    (top, bottom), (left, right) = split(size), split(size + 1)
    want = F.conv2d(F.pad(x, (left, right, top, bottom)), standardize_weight(conv.weight, conv.eps), stride=2)
    torch.testing.assert_close(y, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [63, 64])
def test_std_conv_same_tf_stride_1_is_symmetric(size):
    conv = StdConv2d(2, 4, 3, stride=1)
    x = torch.randn(1, 2, size, size)
    want = F.conv2d(F.pad(x, (1, 1, 1, 1)), standardize_weight(conv.weight, conv.eps))
    torch.testing.assert_close(conv(x), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [31, 32])
def test_max_pool_same_tf_pads_with_minus_inf(size):
    x = -1.0 - torch.rand(1, 3, size, size)  # all negative: a zero border would win the max
    y = PaddedMaxPool2d(3, 2, "same_tf")(x)
    low, high = same_tf_pads(size, 3, 2)
    want = F.max_pool2d(F.pad(x, (low, high, low, high), value=float("-inf")), 3, 2)
    assert y.shape[-1] == math.ceil(size / 2)
    torch.testing.assert_close(y, want, atol=0, rtol=0)
    assert (y < 0).all()


def test_max_pool_fixed_pads_with_zeros_like_bit():
    x = -1.0 - torch.rand(1, 3, 32, 32)
    y = PaddedMaxPool2d(3, 2, 1)(x)
    torch.testing.assert_close(y, F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2), atol=0, rtol=0)
    assert (y[..., 0, :] == 0).all()


# --- weight standardisation ---------------------------------------------------------------------


def test_weight_standardisation_formula():
    torch.manual_seed(0)
    w = torch.randn(8, 3, 3, 3) * 0.1 + 0.05
    eps = 1e-5
    got = standardize_weight(w, eps)
    w64 = w.double().numpy()
    mean = w64.mean(axis=(1, 2, 3), keepdims=True)
    std = w64.std(axis=(1, 2, 3), keepdims=True)  # population std, eps added to std (official StdConv)
    np.testing.assert_allclose(got.numpy(), (w64 - mean) / (std + eps), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(got.mean(dim=(1, 2, 3)).numpy(), 0.0, atol=1e-6)


def test_std_conv_uses_the_standardised_weight_and_has_no_bias():
    conv = StdConv2d(3, 8, 3, stride=1, eps=1e-5)
    assert conv.bias is None
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(conv(x), F.conv2d(x, standardize_weight(conv.weight, 1e-5), padding=1))


# --- layout and config agreement ----------------------------------------------------------------


@pytest.mark.parametrize("unit", ["post_act", "pre_act"])
@pytest.mark.parametrize("padding", ["same_tf", "fixed"])
@pytest.mark.parametrize("num_layers", [(), (1,), (1, 1, 1)])
def test_output_matches_config_channels_and_reduction(unit, padding, num_layers):
    cfg = ResNetConfig(num_layers, 0.5, unit=unit, padding=padding)
    body = ResNetBody(cfg)
    out, feats = body.forward_intermediates(torch.randn(1, 3, 37, 40))
    assert out.shape == (1, cfg.out_channels, math.ceil(37 / cfg.reduction), math.ceil(40 / cfg.reduction))
    want = (
        ["conv_root"] + (["gn_root"] if unit == "post_act" else []) + [f"block{i + 1}" for i in range(len(num_layers))]
    )
    assert list(feats) == want


def test_post_act_gn3_scale_is_zero_initialised():
    body = ResNetBody(ResNetConfig((2, 1), 0.5))
    for i, stage in enumerate(body.stages):
        for unit in stage.units:
            assert torch.all(unit.gn3.weight == 0), f"stage {i}"
            assert torch.all(unit.gn1.weight == 1) and torch.all(unit.gn1.bias == 0)


# --- BiT (pre-activation) -----------------------------------------------------------------------


def _reference_pre_act_unit(
    u: PreActBottleneck, x: torch.Tensor, stride: int, groups: int, gn_eps: float, ws_eps: float
):
    """The BiT unit written out with functional ops, TF SAME padding spelled explicitly."""

    def ws(w):
        return (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), unbiased=False, keepdim=True) + ws_eps)

    def gn_relu(t, m):
        return F.relu(F.group_norm(t, groups, m.weight, m.bias, gn_eps))

    out = gn_relu(x, u.gn1)
    shortcut = x if u.conv_proj is None else F.conv2d(out, ws(u.conv_proj.weight), stride=stride)
    y = gn_relu(F.conv2d(out, ws(u.conv1.weight)), u.gn2)
    low, high = same_tf_pads(y.shape[-1], 3, stride)
    y = gn_relu(F.conv2d(F.pad(y, (low, high, low, high)), ws(u.conv2.weight), stride=stride), u.gn3)
    return F.conv2d(y, ws(u.conv3.weight)) + shortcut


def test_pre_act_units_match_a_functional_reference():
    cfg = ResNetConfig((1, 2), 0.5, unit="pre_act")
    body = ResNetBody(cfg).double()
    _randomize_norms(body, seed=1)
    x = torch.randn(2, 128, 16, 16, dtype=torch.float64)  # block1's output width and size
    projected, identity = body.stages[1].units  # stride 2 with projection, then identity shortcut
    assert projected.conv_proj is not None and identity.conv_proj is None
    with torch.no_grad():
        y = projected(x)
        torch.testing.assert_close(y, _reference_pre_act_unit(projected, x, 2, 32, cfg.gn_eps, cfg.ws_eps))
        torch.testing.assert_close(identity(y), _reference_pre_act_unit(identity, y, 1, 32, cfg.gn_eps, cfg.ws_eps))


def _tiny_bit(num_classes: int = 7) -> BiTResNet:
    return BiTResNet(BiTConfig(ResNetConfig((1, 1), 0.5, unit="pre_act"), image_size=32, num_classes=num_classes))


def test_bit_shapes_and_zero_head():
    model = _tiny_bit()
    x = torch.randn(2, 3, 32, 32)
    feats = model.forward_features(x)
    assert feats.shape == (2, 256, 4, 4) and model.num_features == 256
    assert model.forward_head(feats, pre_logits=True).shape == (2, 256)
    assert torch.all(model.head.weight == 0) and torch.all(model.head.bias == 0)
    assert torch.all(model(x) == 0) and model(x).shape == (2, 7)
    assert set(model.state_dict()) >= {"body.conv_root.weight", "body.norm.weight", "head.weight", "head.bias"}
    assert "body.gn_root.weight" not in model.state_dict()


def test_bit_reset_classifier():
    model = _tiny_bit()
    x = torch.randn(1, 3, 32, 32)
    model.reset_classifier(0)
    assert model.config.num_classes == 0
    torch.testing.assert_close(model(x), model.forward_head(model.forward_features(x), pre_logits=True))
    model.reset_classifier(5)
    assert model(x).shape == (1, 5) and torch.all(model.head.weight == 0) and model.config.num_classes == 5


def test_bit_gradients_flow():
    model = _tiny_bit()
    x = torch.randn(2, 3, 32, 32)
    F.cross_entropy(model(x), torch.tensor([1, 2])).backward()
    assert model.head.weight.grad.abs().sum() > 0  # the zero head still learns...
    assert all(p.grad.abs().sum() == 0 for p in model.body.parameters())  # ...and shields the body at step 0

    model.zero_grad()
    pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    (pooled * torch.randn_like(pooled)).sum().backward()
    for name, p in model.body.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


# --- parity with timm ---------------------------------------------------------------------------


def timm_resnet_key_map(key: str) -> str:
    """timm ``ResNetV2`` key -> ``ResNetBody`` key (hybrid backbone or BiT body; head not included)."""
    key = re.sub(r"^stem\.conv\.", "conv_root.", key)
    key = re.sub(r"^stem\.norm\.", "gn_root.", key)
    key = key.replace(".blocks.", ".units.").replace(".downsample.conv.", ".conv_proj.")
    key = key.replace(".downsample.norm.", ".gn_proj.")
    return re.sub(r"\.norm(\d)\.", r".gn\1.", key)


def _timm_resnetv2(layers, width_factor, preact):
    timm_resnetv2 = pytest.importorskip("timm.models.resnetv2")
    std_conv = pytest.importorskip("timm.layers")
    # As timm builds them: vision_transformer_hybrid._resnetv2 and resnetv2._create_resnetv2_bit.
    conv = partial(std_conv.StdConv2d if preact else std_conv.StdConv2dSame, eps=1e-8)
    width = int(64 * width_factor)
    return timm_resnetv2.ResNetV2(
        layers=layers,
        channels=tuple(4 * width * 2**i for i in range(len(layers))),
        stem_chs=width,
        num_classes=0,
        global_pool="",
        preact=preact,
        stem_type="fixed" if preact else "same",
        conv_layer=conv,
    )


def _load_from_timm(body: ResNetBody, timm_model) -> None:
    state = {timm_resnet_key_map(k): v for k, v in timm_model.state_dict().items()}
    body.load_state_dict(state, strict=True)


@pytest.mark.parametrize("unit", ["post_act", "pre_act"])
def test_body_matches_timm_resnetv2(unit):
    torch.manual_seed(0)
    preact = unit == "pre_act"
    ref = _timm_resnetv2((2, 1), 0.5, preact).eval()
    _randomize_norms(ref, seed=2)
    # timm: GN eps 1e-5, WS (w-mean)/sqrt(var+1e-8); ws_eps=0 is the nearest (~1e-6 relative, cancelled by GN).
    cfg = ResNetConfig((2, 1), 0.5, unit=unit, padding="fixed" if preact else "same_tf", gn_eps=1e-5, ws_eps=0.0)
    body = ResNetBody(cfg).eval()
    _load_from_timm(body, ref)
    x = torch.randn(2, 3, 61, 64)  # odd and even sizes exercise both padding splits
    with torch.no_grad():
        torch.testing.assert_close(body(x), ref.forward_features(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("layers", "preact"), [((3, 4, 9), False), ((3, 4, 6, 3), True)], ids=["R50-hybrid-backbone", "BiT-R50x1"]
)
def test_full_size_layouts_match_timm(layers, preact):
    ref = _timm_resnetv2(layers, 1, preact)
    body = ResNetBody(ResNetConfig(layers, 1, unit="pre_act" if preact else "post_act"))
    want = {timm_resnet_key_map(k): tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in body.state_dict().items()} == want
    assert body.out_channels == ref.num_features


def test_bit_r50x1_parameter_count():
    # BiT-R50x1 with a 1000-class head: 25,549,352 parameters, as timm's resnetv2_50x1_bit.
    model = BiTResNet(BiTConfig())
    assert sum(p.numel() for p in model.parameters()) == 25_549_352


@pytest.mark.parametrize("unit", ["pre_act", "post_act"])
def test_bit_grad_checkpointing_same_gradients(unit):
    torch.manual_seed(0)
    a = BiTResNet(BiTConfig(ResNetConfig((2, 1), 0.5, unit=unit), image_size=32, num_classes=7)).train()
    _randomize_norms(a)
    with torch.no_grad():
        a.head.weight.normal_()  # a zero head would leave the body without gradients
    b = BiTResNet(a.config).train()
    b.load_state_dict(a.state_dict())
    b.set_grad_checkpointing()
    x = torch.randn(2, 3, 32, 32)
    a(x).square().sum().backward()
    b(x).square().sum().backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)
    assert all(p.grad.abs().sum() > 0 for p in b.body.parameters())
