"""BiT checkpoints: timm ``resnetv2_*_bit`` state dicts and the official BiT ``.npz`` load into vitkit's BiT model
with timm's logits on the same random weights; the layout vitkit writes is the one timm's own npz reader reads."""

from functools import partial

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import vitkit
from vitkit import CheckpointError
from vitkit.checkpoint.write import write
from vitkit.cli.main import main

timm = pytest.importorskip("timm")
from timm.layers import StdConv2d  # noqa: E402 -- after the importorskip
from timm.models.resnetv2 import ResNetV2, _load_weights  # noqa: E402


def randomise(model, seed=0):
    # Non-trivial GroupNorm affine params and a non-zero head: a swapped gamma/beta or head would show.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
            if "norm" in name and name.endswith("weight"):
                p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return model.eval()


def small_timm_bit(num_classes=7):
    """A small ResNetV2 built as timm builds its BiT models (fixed stem, StdConv2d eps 1e-8, conv head)."""
    ref = ResNetV2(
        layers=(2, 1),
        channels=(128, 256),
        stem_chs=32,
        num_classes=num_classes,
        stem_type="fixed",
        conv_layer=partial(StdConv2d, eps=1e-8),
    )
    return randomise(ref)


def save_state(ref, path):
    sd = {k: v.contiguous() for k, v in ref.state_dict().items()}
    save_file(sd, path) if path.suffix == ".safetensors" else torch.save(sd, path)
    return path


def compare(ours, ref, size, atol=1e-5, dtype=torch.float32):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1)).to(dtype)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=atol, rtol=0)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_small_timm_bit_state_dict(tmp_path, suffix):
    ref = small_timm_bit()
    ours = vitkit.load(save_state(ref, tmp_path / f"bit{suffix}"))
    cfg = ours.config
    assert isinstance(cfg, vitkit.BiTConfig) and cfg.num_classes == 7
    assert (cfg.resnet.num_layers, cfg.resnet.width, cfg.resnet.unit, cfg.resnet.padding) == (
        (2, 1),
        32,
        "pre_act",
        "fixed",
    )
    compare(ours, ref, 61)  # odd size: BiT's symmetric padding, not TF SAME


def timm_from_npz(path, make):
    """A timm model filled by timm's own reader of the official BiT layout."""
    ref = make()
    with torch.no_grad():
        for p in ref.parameters():
            p.zero_()
    _load_weights(ref, str(path))
    return ref.eval()


def test_small_official_bit_npz(tmp_path):
    ref = small_timm_bit()
    model = vitkit.load(save_state(ref, tmp_path / "bit.safetensors"))
    write(model, tmp_path / "bit.npz")
    keys = set(np.load(tmp_path / "bit.npz").files)
    assert {
        "resnet/root_block/standardized_conv2d/kernel",
        "resnet/block1/unit01/a/group_norm/gamma",
        "resnet/block2/unit01/a/proj/standardized_conv2d/kernel",
        "resnet/head/conv2d/kernel",
    } <= keys
    from_npz = timm_from_npz(tmp_path / "bit.npz", lambda: small_timm_bit())
    for (name, a), b in zip(ref.state_dict().items(), from_npz.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)  # timm reads back exactly what it had
    ours = vitkit.load(tmp_path / "bit.npz")
    assert ours.config.num_classes == 7
    compare(ours, from_npz, 64)


def same_standardisation(ref):
    """timm standardises with (w - mean) / sqrt(var + 1e-8), vitkit (BiT-style, ws_eps=0) with / std: make them one."""
    for m in ref.modules():
        if isinstance(m, StdConv2d):
            m.eps = 1e-30  # F.batch_norm refuses 0
    return ref


@pytest.mark.slow
def test_r50x1_timm_and_npz(tmp_path):
    def make():
        return timm.create_model("resnetv2_50x1_bit", pretrained=False, num_classes=10)

    torch.manual_seed(0)
    ref = randomise(make())
    ours = vitkit.load(save_state(ref, tmp_path / "r50.safetensors"))
    assert ours.config.resnet.num_layers == (3, 4, 6, 3)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    # As timm computes it, float32: the 1e-8 inside timm's square root and 50 layers of float32 rounding
    # (each side ~2e-5 from its own float64 result) leave ~3e-5 on logits of size ~2.
    compare(ours, ref, 96, atol=1e-4)
    # The same function in float64: the weights map exactly.
    compare(ours.double(), same_standardisation(ref).double(), 96, atol=1e-10, dtype=torch.float64)
    write(ours.float(), tmp_path / "r50.npz")
    from_npz = same_standardisation(timm_from_npz(tmp_path / "r50.npz", make))
    compare(vitkit.load(tmp_path / "r50.npz").double(), from_npz.double(), 96, atol=1e-10, dtype=torch.float64)


@pytest.mark.parametrize("fmt", ["timm", "npz", "vitkit"])
def test_bit_round_trip(tmp_path, fmt):
    model = vitkit.load(save_state(small_timm_bit(), tmp_path / "src.safetensors"))
    model.info.classes = [f"c{i}" for i in range(7)]
    dst = write(model, tmp_path / ("m.npz" if fmt == "npz" else "m.safetensors"), fmt)
    back = vitkit.load(dst)
    assert back.config.replace(name="") == model.config.replace(name="")
    if fmt != "npz":
        assert back.classes == model.classes
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), atol=1e-6, rtol=0)


def test_bit_options(tmp_path):
    src = save_state(small_timm_bit(), tmp_path / "bit.safetensors")
    model = vitkit.load(src, num_classes=3)
    assert model.config.num_classes == 3 and torch.all(model.head.weight == 0)
    no_head = small_timm_bit(num_classes=0)
    assert "head.fc.weight" not in no_head.state_dict()
    pooled = vitkit.load(save_state(no_head, tmp_path / "nohead.safetensors"))
    compare(pooled, no_head, 32)


def one_line(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg


def test_head_that_does_not_fit(tmp_path):
    sd = dict(small_timm_bit().state_dict())
    sd["head.fc.weight"] = torch.zeros(7, 100, 1, 1)
    save_file(sd, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "bad.safetensors")
    one_line(e, "bad.safetensors", "head.weight", "(7, 100)", "(7, 256)")


def test_npz_head_that_does_not_fit(tmp_path):
    write(vitkit.load(save_state(small_timm_bit(), tmp_path / "bit.safetensors")), tmp_path / "bit.npz")
    arrays = dict(np.load(tmp_path / "bit.npz"))
    arrays["resnet/head/conv2d/kernel"] = np.zeros((1, 1, 512, 7), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "bad.npz")
    one_line(e, "bad.npz", "head.weight")


def test_width_that_does_not_fit(tmp_path):
    sd = dict(small_timm_bit().state_dict())
    sd["stem.conv.weight"] = torch.zeros(48, 3, 7, 7)  # GroupNorm(32) cannot split 48 channels
    save_file(sd, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "bad.safetensors")
    one_line(e, "bad.safetensors", "48")


def test_unexpected_npz_array(tmp_path):
    write(vitkit.load(save_state(small_timm_bit(), tmp_path / "bit.safetensors")), tmp_path / "bit.npz")
    arrays = dict(np.load(tmp_path / "bit.npz"))
    arrays["resnet/block1/unit01/d/group_norm/gamma"] = np.ones(32, np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "bad.npz")
    one_line(e, "bad.npz", "resnet/block1/unit01/d/group_norm/gamma")


def test_cli_bit_to_hf_refused_and_to_npz(tmp_path, capsys):
    src = save_state(small_timm_bit(), tmp_path / "bit.safetensors")
    assert main(["convert", str(src), str(tmp_path / "hf"), "--to", "hf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--to hf: a BiT ResNet" in err, err
    assert main(["convert", str(src), str(tmp_path / "bit.npz")]) == 0
    assert vitkit.load(tmp_path / "bit.npz").config.resnet.num_layers == (2, 1)


def test_vitkit_bit_variant_refused_where_bit_cannot_hold_it(tmp_path):
    model = vitkit.create_model("BiT-R50x1", resnet=vitkit.ResNetConfig((1,), 0.5, unit="pre_act"))
    with pytest.raises(CheckpointError) as e:  # TF SAME padding: not BiT's
        write(model, tmp_path / "m.npz")
    one_line(e, "--to npz", "resnet.padding")


def test_bit_variant_eps_refused_in_npz_kept_in_timm_safetensors(tmp_path):
    """vitkit's BiT-R50x1 variant uses the official ViT code's GroupNorm/WS eps; BiT's npz cannot say so."""
    model = vitkit.create_model("BiT-R50x1", resnet=vitkit.ResNetConfig((1,), 0.5, unit="pre_act", padding="fixed"))
    with pytest.raises(CheckpointError) as e:
        write(model, tmp_path / "m.npz")
    one_line(e, "--to npz", "resnet=", "gn_eps")
    with pytest.raises(CheckpointError) as e:
        write(model, tmp_path / "m.pth", "timm")
    one_line(e, "--to timm", "metadata")
    back = vitkit.load(write(model, tmp_path / "m.safetensors", "timm"))
    assert back.config.resnet == model.config.resnet
