"""vitkit's own format, conversion between formats, and clear errors on files that do not fit."""

import io
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import vitkit
from vitkit import CheckpointError

SMALL = dict(image_size=32, patch_size=4, hidden_size=64, num_layers=2, num_heads=4, mlp_dim=128, num_classes=10)


def small(**kw):
    torch.manual_seed(0)
    model = vitkit.create_model("ViT-Ti/16", **{**SMALL, **kw})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"posemb": "learned_2d", "posemb_at": "every_layer"},
        {"posemb": "relative", "classifier": "gap"},
        {"representation_size": 16, "gelu": "exact"},
    ],
)
def test_save_load_roundtrip(tmp_path, kw):
    model = small(**kw)
    vitkit.save(model, tmp_path / "m.safetensors", classes=[str(i) for i in range(10)], extra={"mean": [0.5]})
    back = vitkit.load(tmp_path / "m.safetensors")
    assert back.config == model.config
    assert (
        back.classes == [str(i) for i in range(10)]
        and back.info.extra == {"mean": [0.5]}
        and back.info.transform is None
    )
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), atol=0, rtol=0)


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    path = tmp_path / "m.safetensors"
    vitkit.save(small(), path)
    first = path.read_bytes()
    vitkit.save(small(num_classes=3), path)
    assert path.read_bytes() != first
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_load_options(tmp_path, fixtures_dir):
    model = vitkit.load(
        fixtures_dir / "vit_token_rep32_p4_32.params.npz", drop_pre_logits=True, num_classes=4, image_size=(40, 48)
    )
    assert model.config.representation_size is None and model.config.num_classes == 4
    assert model.config.image_size == (40, 48) and model.pos_embed.weight.shape == (1, 1 + 10 * 12, 64)
    assert model(torch.randn(1, 3, 40, 48)).shape == (1, 4)


def test_convert_official_to_vitkit_keeps_outputs(tmp_path, fixtures_dir):
    for name in ["vit_token_p4_32", "hybrid_r2x1_w05_p1_64"]:
        src = vitkit.load(fixtures_dir / f"{name}.params_prelinen.npz")
        vitkit.save(src, tmp_path / f"{name}.safetensors")
        dst = vitkit.load(tmp_path / f"{name}.safetensors")
        io_ = np.load(fixtures_dir / f"{name}.io.npz")
        with torch.no_grad():
            logits = dst(torch.from_numpy(io_["inputs"]).permute(0, 3, 1, 2))
        np.testing.assert_allclose(logits.numpy(), io_["logits"], atol=1e-5, rtol=0)


def one_line(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "nope.safetensors")
    one_line(e, "nope.safetensors", "no such file")


def test_not_a_checkpoint(tmp_path):
    for name, data in [
        ("x.safetensors", b"hello world, not tensors"),
        ("x.npz", b"PK\x03\x04junk"),
        ("x.pth", b"\x80\x04junk"),
        ("x.txt", b"text"),
    ]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError) as e:
            vitkit.load(tmp_path / name)
        one_line(e, name)


def test_truncated_files(tmp_path, fixtures_dir):
    vitkit.save(small(), tmp_path / "m.safetensors")
    for src in [tmp_path / "m.safetensors", fixtures_dir / "vit_token_p4_32.params.npz"]:
        data = src.read_bytes()
        cut = tmp_path / f"cut{src.suffix}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError) as e:
            vitkit.load(cut)
        one_line(e, "cut")


def test_wrong_shape_names_first_mismatch(tmp_path):
    model = small()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    sd["blocks.1.mlp.fc1.weight"] = torch.zeros(99, 64)
    vitkit.save(model, tmp_path / "m.safetensors")
    from vitkit.checkpoint.native import safetensors_metadata

    save_file(sd, tmp_path / "bad.safetensors", metadata=safetensors_metadata(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "bad.safetensors")
    one_line(e, "bad.safetensors", "blocks.1.mlp.fc1.weight", "(99, 64)")


def test_unknown_keys_in_official_npz(tmp_path, fixtures_dir):
    params = dict(np.load(fixtures_dir / "vit_token_p4_32.params.npz"))
    params["Transformer/encoderblock_0/extra/kernel"] = np.zeros(3, np.float32)
    np.savez(tmp_path / "x.npz", **params)
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "x.npz")
    one_line(e, "extra/kernel")
    del params["Transformer/encoderblock_0/extra/kernel"]
    del params["Transformer/encoderblock_1/LayerNorm_0/scale"]
    np.savez(tmp_path / "y.npz", **params)
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "y.npz")
    one_line(e, "y.npz")


class Boom:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_loading_never_executes_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"state_dict": {"w": torch.zeros(1)}, "evil": Boom()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "evil.pth")
    one_line(e, "evil.pth", "weights-only")
    assert not (tmp_path / "PWNED").exists()
    # an npz holding a pickled object array is refused too
    buf = io.BytesIO()
    np.save(buf, np.array([Boom()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as z:
        z.writestr("cls.npy", buf.getvalue())
    with pytest.raises(CheckpointError) as e:
        vitkit.load(tmp_path / "evil.npz")
    one_line(e, "evil.npz")
    assert not (tmp_path / "PWNED").exists()


def test_bad_image_size_for_checkpoint(fixtures_dir):
    with pytest.raises(CheckpointError) as e:
        vitkit.load(fixtures_dir / "vit_token_p4_32.params.npz", image_size=30)
    one_line(e, "image_size=30", "not divisible")
