"""Every format back out: vitkit.load(write(model, to=FORMAT)) is the model again, and timm, transformers and the
official fixtures read what vitkit writes with the same outputs."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import vitkit
from vitkit import CheckpointError
from vitkit.checkpoint.write import infer_format, write
from vitkit.cli.main import main

SMALL = {
    "image_size": 32,
    "patch_size": 4,
    "hidden_size": 64,
    "num_layers": 2,
    "num_heads": 4,
    "mlp_dim": 128,
    "num_classes": 10,
}
SUFFIX = {"vitkit": "m.safetensors", "timm": "m.safetensors", "npz": "m.npz", "hf": "hf"}
CONFIGS = {  # (overrides, formats that can hold it)
    "token": ({}, ["vitkit", "timm", "hf", "npz"]),
    "gap": ({"classifier": "gap"}, ["vitkit", "timm", "npz"]),
    "rep": ({"representation_size": 16}, ["vitkit", "npz"]),
    "rep-no-head": ({"representation_size": 16, "num_classes": 0}, ["vitkit", "hf"]),
    "exact-gelu-non-square": (
        {"gelu": "exact", "image_size": (32, 48), "layer_norm_eps": 1e-12},
        ["vitkit", "timm", "hf"],
    ),
    "no-qkv-bias": ({"qkv_bias": False}, ["vitkit", "timm", "hf", "npz"]),
    "hybrid": (
        {"image_size": 64, "patch_size": 1, "resnet": {"num_layers": (2, 1), "width_factor": 0.5}},
        ["vitkit", "timm", "npz"],
    ),
}
CASES = [(name, fmt) for name, (_, fmts) in CONFIGS.items() for fmt in fmts]


def small(**kw):
    torch.manual_seed(0)
    model = vitkit.create_model("ViT-Ti/16", **{**SMALL, **kw})
    with torch.no_grad():  # non-zero heads, class token, gn3 scales: nothing that hides a swapped tensor
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.info.classes = [f"class {i}" for i in range(model.config.num_classes)] or None
    return model.eval()


def logits(model, x):
    with torch.no_grad():
        return model(x) if model.config.num_classes else model.embed(x)


def image(model):
    torch.manual_seed(1)
    return torch.randn(2, 3, *model.config.image_size)


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_round_trip(tmp_path, name, fmt):
    model = small(**CONFIGS[name][0])
    dst = write(model, tmp_path / SUFFIX[fmt], fmt)
    back = vitkit.load(dst)
    x = image(model)
    torch.testing.assert_close(logits(back, x), logits(model, x), atol=1e-6, rtol=0)
    if fmt in ("vitkit", "timm", "hf"):  # npz holds no class names
        assert back.classes == model.classes
    if not (fmt == "npz" and name == "no-qkv-bias"):  # npz: zero biases, the official attention has them
        assert back.config.replace(name="") == model.config.replace(name="")


# --- the other ecosystems read what vitkit writes --------------------------------------------------

TIMM_CASES = ["token", "gap", "exact-gelu-non-square", "no-qkv-bias"]


@pytest.mark.parametrize("name", TIMM_CASES)
def test_timm_loads_the_file(tmp_path, name):
    timm = pytest.importorskip("timm")
    from vitkit.checkpoint.timm_format import timm_kwargs

    model = small(**CONFIGS[name][0])
    write(model, tmp_path / "m.safetensors", "timm")
    ref = timm.create_model("vit_tiny_patch16_224", pretrained=False, **timm_kwargs(model.config)).eval()
    ref.load_state_dict(load_file(tmp_path / "m.safetensors"), strict=True)
    x = image(model)
    with torch.no_grad():
        torch.testing.assert_close(ref(x), logits(model, x), atol=1e-5, rtol=0)


def test_timm_loads_a_hybrid(tmp_path):
    pytest.importorskip("timm")
    from functools import partial

    from timm.layers import StdConv2dSame
    from timm.models.resnetv2 import ResNetV2
    from timm.models.vision_transformer import VisionTransformer
    from timm.models.vision_transformer_hybrid import HybridEmbed

    # timm's hybrid stem: GroupNorm eps 1e-5, weight standardisation without (~1e-8) eps
    model = small(
        image_size=64,
        patch_size=1,
        resnet={"num_layers": (2, 1), "width_factor": 0.5, "gn_eps": 1e-5, "ws_eps": 0.0},
        gelu="exact",
    )
    write(model, tmp_path / "m.safetensors", "timm")
    backbone = ResNetV2(
        layers=(2, 1),
        stem_chs=32,
        channels=(128, 256, 512, 1024),
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
    ).eval()
    ref.load_state_dict(load_file(tmp_path / "m.safetensors"), strict=True)
    x = image(model)
    with torch.no_grad():
        torch.testing.assert_close(ref(x), logits(model, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["token", "exact-gelu-non-square", "no-qkv-bias", "rep-no-head"])
def test_transformers_loads_the_folder(tmp_path, name):
    transformers = pytest.importorskip("transformers")
    model = small(**CONFIGS[name][0])
    write(model, tmp_path / "hf", "hf")
    x = image(model)
    if model.config.num_classes:
        ref = transformers.ViTForImageClassification.from_pretrained(tmp_path / "hf").eval()
        assert ref.config.id2label == {i: f"class {i}" for i in range(10)}
        with torch.no_grad():
            torch.testing.assert_close(ref(pixel_values=x).logits, logits(model, x), atol=1e-5, rtol=0)
    else:
        ref = transformers.ViTModel.from_pretrained(tmp_path / "hf").eval()
        with torch.no_grad():
            torch.testing.assert_close(ref(pixel_values=x).pooler_output, model.embed(x), atol=1e-5, rtol=0)
    proc = transformers.ViTImageProcessor.from_pretrained(tmp_path / "hf")
    assert proc.size == {"height": model.config.image_size[0], "width": model.config.image_size[1]}
    assert list(proc.image_mean) == [0.5, 0.5, 0.5] and list(proc.image_std) == [0.5, 0.5, 0.5]


def test_unknown_classes_stay_unknown_through_hf(tmp_path):
    model = small()
    model.info.classes = None
    write(model, tmp_path / "hf", "hf")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["id2label"]["3"] == "LABEL_3"  # HF's placeholder
    assert vitkit.load(tmp_path / "hf").classes is None


# --- the official layout ---------------------------------------------------------------------------

FIXTURES = [
    "vit_token_p4_32",
    "vit_token_rep32_p4_32",
    "vit_gap_p4_32",
    "hybrid_r2x1_w05_p1_64",
    "vit_token_p4_48_ft_from_32",
]


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("layout", ["params", "params_prelinen"])
def test_npz_is_the_official_savers_file(tmp_path, fixtures_dir, name, layout):
    """Read a fixture (either layout), write it: the same arrays, names and shapes as the official linen saver's."""
    model = vitkit.load(fixtures_dir / f"{name}.{layout}.npz")
    write(model, tmp_path / "m.npz")
    want = np.load(fixtures_dir / f"{name}.params.npz")
    got = np.load(tmp_path / "m.npz", allow_pickle=False)
    assert sorted(got.files) == sorted(want.files)
    for key in want.files:
        assert got[key].shape == want[key].shape and got[key].dtype == want[key].dtype, key
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    io_ = np.load(fixtures_dir / f"{name}.io.npz")
    with torch.no_grad():
        out = vitkit.load(tmp_path / "m.npz")(torch.from_numpy(io_["inputs"]).permute(0, 3, 1, 2))
    np.testing.assert_allclose(out.numpy(), io_["logits"], atol=1e-5, rtol=0)


def test_cli_official_to_hf_and_timm(tmp_path, fixtures_dir, capsys):
    """An official checkpoint published to both ecosystems through the command line gives the official logits."""
    transformers = pytest.importorskip("transformers")
    timm = pytest.importorskip("timm")
    src = fixtures_dir / "vit_token_p4_32.params_prelinen.npz"
    io_ = np.load(fixtures_dir / "vit_token_p4_32.io.npz")
    x = torch.from_numpy(io_["inputs"]).permute(0, 3, 1, 2)
    assert main(["convert", str(src), str(tmp_path / "hf")]) == 0
    assert "(hf)" in capsys.readouterr().out
    assert main(["convert", str(src), str(tmp_path / "t.safetensors"), "--to", "timm"]) == 0
    hf = transformers.ViTForImageClassification.from_pretrained(tmp_path / "hf").eval()
    ref = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=32,
        patch_size=4,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=2,
        num_classes=10,
        act_layer="gelu_tanh",
    ).eval()
    ref.load_state_dict(load_file(tmp_path / "t.safetensors"))
    with torch.no_grad():
        np.testing.assert_allclose(hf(pixel_values=x).logits.numpy(), io_["logits"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(ref(x).numpy(), io_["logits"], atol=1e-5, rtol=0)


# --- what a format cannot hold: refused in one line naming the option --------------------------------

REFUSED = [
    ({"posemb": "learned_2d"}, "timm", "posemb"),
    ({"posemb": "sincos_2d"}, "hf", "posemb"),
    ({"posemb": "learned_1d", "posemb_at": "every_layer"}, "npz", "posemb"),
    ({"representation_size": 16}, "timm", "representation_size"),
    ({"representation_size": 16}, "hf", "representation_size"),
    ({"classifier": "gap"}, "hf", "classifier"),
    ({"image_size": 64, "patch_size": 1, "resnet": {"num_layers": (1,), "width_factor": 0.5}}, "hf", "hybrid"),
    ({"gelu": "exact"}, "npz", "gelu"),
    ({"image_size": (32, 48)}, "npz", "image_size"),
    ({"layer_norm_eps": 1e-12}, "npz", "layer_norm_eps"),
]


@pytest.mark.parametrize(("kw", "fmt", "option"), REFUSED, ids=[f"{f}-{o}" for _, f, o in REFUSED])
def test_refused_in_one_line(tmp_path, kw, fmt, option):
    with pytest.raises(CheckpointError) as e:
        write(small(**kw), tmp_path / SUFFIX[fmt], fmt)
    msg = str(e.value)
    assert "\n" not in msg and f"--to {fmt}" in msg and option in msg, msg
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_cli_refusal_is_one_line(tmp_path, capsys):
    vitkit.save(small(classifier="gap"), tmp_path / "gap.safetensors")
    assert main(["convert", str(tmp_path / "gap.safetensors"), str(tmp_path / "out"), "--to", "hf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--to hf: classifier='gap'" in err, err


@pytest.mark.parametrize(
    ("dst", "fmt"),
    [("a.npz", "npz"), ("a.pth", "timm"), ("a.bin", "timm"), ("a.safetensors", "vitkit"), ("folder", "hf")],
)
def test_format_from_the_output_name(tmp_path, dst, fmt):
    assert infer_format(tmp_path / dst) == fmt


def test_unknown_output_suffix(tmp_path):
    with pytest.raises(CheckpointError, match=r"a\.onnx: cannot tell the format"):
        infer_format(tmp_path / "a.onnx")


def test_timm_pth_round_trip(tmp_path):
    # a .pth holds tensors only: the heads come from the width (192 -> 3) and the GELU is timm's exact one
    model = small(hidden_size=192, num_heads=3, mlp_dim=384, gelu="exact")
    write(model, tmp_path / "m.pth")
    assert set(torch.load(tmp_path / "m.pth", weights_only=True)) >= {"pos_embed", "blocks.0.attn.qkv.weight"}
    back = vitkit.load(tmp_path / "m.pth")
    assert back.config.replace(name="") == model.config.replace(name="")
    x = image(model)
    torch.testing.assert_close(logits(back, x), logits(model, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("dst", "fmt"), [("m.onnx", "timm"), ("m.safetensors", "npz"), ("m.pth", "vitkit")])
def test_output_suffix_must_fit_the_format(tmp_path, dst, fmt):
    with pytest.raises(CheckpointError, match=rf"--to {fmt}: the output must be a"):
        write(small(), tmp_path / dst, fmt)


def test_pth_refuses_what_its_tensors_cannot_say(tmp_path):
    with pytest.raises(CheckpointError) as e:  # 64 wide: a reader assumes 1 head (head size 64), not 4
        write(small(gelu="exact"), tmp_path / "m.pth")
    msg = str(e.value)
    assert "--to timm: num_heads=4 is not recorded" in msg and "metadata" in msg and "\n" not in msg, msg
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")  # works as root too, unlike a read-only folder
    for dst, fmt in [(tmp_path / "file" / "m.npz", "npz"), (tmp_path / "file" / "hf", "hf")]:
        with pytest.raises(CheckpointError, match="cannot write") as e:
            write(small(), dst, fmt)
        assert "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="--to hf: the output is a folder"):
        write(small(), tmp_path / "file", "hf")
