"""The published checkpoints as released (issue 19): one name gives one model from every source, a zeroed or
absent head is a feature extractor that predict/eval/serve refuse, BiT evaluates at its resolution, and a cached
file that is not the released one is refused.

Stand-ins are built the way each source builds its files, from one set of weights (the official fixture's tiny
ViT, hidden 64, patch 4, 32 px, plus a 64x64 pre-logits layer):
- official: the published pre-linen ``.npz`` with the 21,843-way head zeroed and the pre-logits kept;
- timm: ``timm.create_model(..., num_classes=0)`` filled by timm's own ``.npz`` loader, saved as safetensors
  (timm's ``orig_in21k`` files: neither head nor pre-logits);
- Hugging Face: a transformers ``ViTModel`` with its pooler (the pre-logits) and no classifier, ``save_pretrained``
  (``google/vit-*-in21k``: exact GELU, LayerNorm eps 1e-12, as its config says).
All served by the local test server (tests/hub_server.py) on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import vitkit
from test_hub import cached_file, entry, safetensors_bytes, write_registry
from vitkit.cli.main import main as cli
from vitkit.hub import HubError, entries
from vitkit.hub.cache import matches_listing
from vitkit.hub.resolve import Resolved
from vitkit.models.head import NotAClassifierError, head_state
from vitkit.models.info import ModelInfo
from vitkit.models.transform import transform_for

NAME = "ViT-Ti/4:test-imagenet21k@32"
PATH = "vit_models/imagenet21k/ViT-Ti_4-test.npz"
HF_REPO = "google/vit-tiny-test-in21k"
TIMM_ID = "vit_tiny_patch16_224.test_orig_in21k"
CLASSES_21K = 21843


def listing(size: int) -> str:
    """``size`` as ``gsutil ls -lh`` prints it (value rounded to 2 decimals of its unit)."""
    for i, unit in enumerate(("B", "KiB", "MiB", "GiB")):
        if size < 1024 ** (i + 1) or unit == "GiB":
            return f"{round(size / 1024**i, 2):g} {unit}"
    raise AssertionError


@pytest.fixture(scope="module")
def weights(fixtures_dir: Path) -> dict[str, np.ndarray]:
    """The official published layout (pre-linen names) with a zeroed 21,843-way head and a pre-logits layer."""
    with np.load(fixtures_dir / "vit_token_p4_32.params_prelinen.npz") as z:
        params = dict(z)
    rng = np.random.default_rng(0)
    params["pre_logits/kernel"] = rng.normal(0, 0.1, (64, 64)).astype(np.float32)
    params["pre_logits/bias"] = rng.normal(0, 0.1, (64,)).astype(np.float32)
    params["head/kernel"] = np.zeros((64, CLASSES_21K), np.float32)  # "we explicitly set the heads to zero"
    params["head/bias"] = np.zeros((CLASSES_21K,), np.float32)
    return params


def npz_bytes(params: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **params)
    return buf.getvalue()


@pytest.fixture(scope="module")
def official_file(weights) -> bytes:
    return npz_bytes(weights)


@pytest.fixture(scope="module")
def timm_file(weights, tmp_path_factory) -> tuple[bytes, torch.nn.Module]:
    """timm's orig_in21k copy: its model without head, filled by its own loader of the official file."""
    timm = pytest.importorskip("timm")
    from timm.models.vision_transformer import _load_weights

    path = tmp_path_factory.mktemp("timm") / "official.npz"
    path.write_bytes(npz_bytes(weights))
    model = timm.create_model(
        "vit_tiny_patch16_224", img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
        num_classes=0,
    )  # fmt: skip
    _load_weights(model, str(path))
    return safetensors_bytes(model), model.eval()


@pytest.fixture(scope="module")
def hf_files(weights, tmp_path_factory) -> dict[str, bytes]:
    """google/vit-*-in21k: a ViTModel with its pooler (Dense + tanh = the pre-logits) and no classifier."""
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32,
        patch_size=4, hidden_act="gelu", layer_norm_eps=1e-12,
    )  # fmt: skip
    model = transformers.ViTModel(config, add_pooling_layer=True)
    p, d = weights, 64
    sd = {
        "embeddings.cls_token": p["cls"],
        "embeddings.position_embeddings": p["Transformer/posembed_input/pos_embedding"],
        "embeddings.patch_embeddings.projection.weight": p["embedding/kernel"].transpose(3, 2, 0, 1),
        "embeddings.patch_embeddings.projection.bias": p["embedding/bias"],
        "layernorm.weight": p["Transformer/encoder_norm/scale"],
        "layernorm.bias": p["Transformer/encoder_norm/bias"],
        "pooler.dense.weight": p["pre_logits/kernel"].T,
        "pooler.dense.bias": p["pre_logits/bias"],
    }
    for i in range(2):
        b, h = f"Transformer/encoderblock_{i}/", f"encoder.layer.{i}."
        a = b + "MultiHeadDotProductAttention_1/"
        for n in ("query", "key", "value"):
            sd[f"{h}attention.attention.{n}.weight"] = p[f"{a}{n}/kernel"].reshape(d, d).T
            sd[f"{h}attention.attention.{n}.bias"] = p[f"{a}{n}/bias"].reshape(d)
        sd |= {
            h + "attention.output.dense.weight": p[a + "out/kernel"].reshape(d, d).T,
            h + "attention.output.dense.bias": p[a + "out/bias"],
            h + "layernorm_before.weight": p[b + "LayerNorm_0/scale"],
            h + "layernorm_before.bias": p[b + "LayerNorm_0/bias"],
            h + "layernorm_after.weight": p[b + "LayerNorm_2/scale"],
            h + "layernorm_after.bias": p[b + "LayerNorm_2/bias"],
            h + "intermediate.dense.weight": p[b + "MlpBlock_3/Dense_0/kernel"].T,
            h + "intermediate.dense.bias": p[b + "MlpBlock_3/Dense_0/bias"],
            h + "output.dense.weight": p[b + "MlpBlock_3/Dense_1/kernel"].T,
            h + "output.dense.bias": p[b + "MlpBlock_3/Dense_1/bias"],
        }
    folder = tmp_path_factory.mktemp("hf")
    model.save_pretrained(folder)  # config.json, and the weights under the names the Hub's files use
    from safetensors.torch import load_file, save_file

    assert set(load_file(folder / "model.safetensors")) == set(sd)  # the same layout, now with the weights
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, folder / "model.safetensors")
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.suffix in (".json", ".safetensors")}


def in21k_entry(data: bytes, **fields: object) -> dict:
    """The registry's description of an original ImageNet-21k release: zeroed head, pre-logits, listed size."""
    base = entry(PATH, data, sha=False, size=False, labels="imagenet21k", num_classes=CLASSES_21K)
    base["official"]["listed_size"] = listing(len(data))
    return {**base, "head": "zeroed", "pre_logits": True, "hf": HF_REPO, **fields}


def serve_all(bucket, official: bytes, hf: dict[str, bytes], registry: dict | None = None) -> None:
    """The official file and the Hugging Face copy on the test server; no progress bars (stderr is asserted)."""
    import os

    os.environ["VITKIT_NO_PROGRESS"] = "1"  # the bucket fixture's monkeypatch restores it afterwards
    bucket.add(PATH, official)
    for name, data in hf.items():
        bucket.add_hf(HF_REPO, name, data)
    write_registry(bucket, {NAME: registry or in21k_entry(official)})


def fresh_cache(bucket, tmp_path: Path, monkeypatch, tag: str) -> None:
    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / f"home-{tag}"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / f"hf-{tag}"))
    bucket.home = tmp_path / f"home-{tag}"


# ---- one name, one model ------------------------------------------------------------------------------------------


def test_official_and_hugging_face_copies_give_the_same_model(
    bucket, official_file, hf_files, tmp_path, monkeypatch
) -> None:
    serve_all(bucket, official_file, hf_files)
    official = vitkit.load(NAME)
    assert official.info.extra["hub"]["source"].endswith(PATH.replace("+", "%2B"))
    fresh_cache(bucket, tmp_path, monkeypatch, "hf")
    bucket.mode[PATH] = "404"  # the bucket no longer has it: the Hugging Face copy answers
    hf = vitkit.load(NAME)
    assert hf.info.extra["hub"]["source"] == f"hf:{HF_REPO}"

    a, b = official.state_dict(), hf.state_dict()
    assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a)
    assert "head.weight" not in a and "pre_logits.0.weight" in a  # zeroed head dropped, pre-logits kept
    assert official.config == hf.config  # the authors' tanh GELU and eps 1e-6, whichever library wrote the copy
    assert official.config.gelu == "tanh" and official.config.layer_norm_eps == 1e-6
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(official.embed(x), hf.embed(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(official(x), hf(x), rtol=1e-5, atol=1e-5)
    for model in (official, hf):
        assert head_state(model) == "absent" and model.info.extra["hub"]["head"] == "zeroed"
        assert model.classes is None and transform_for(model).image_size == (32, 32)


def test_the_embedding_is_the_authors_pre_logits(bucket, official_file, hf_files, fixtures_dir) -> None:
    """The name's embedding is tanh(pre_logits(class token)): the official model's, not the raw class token."""
    serve_all(bucket, official_file, hf_files)
    model = vitkit.load(NAME)
    with np.load(fixtures_dir / "vit_token_p4_32.io.npz") as io_:
        x = torch.from_numpy(io_["inputs"]).permute(0, 3, 1, 2)
        token = torch.from_numpy(io_["pre_logits"])  # the fixture model has no pre-logits: its class token
    with np.load(io.BytesIO(official_file)) as z:
        kernel, bias = torch.from_numpy(z["pre_logits/kernel"]), torch.from_numpy(z["pre_logits/bias"])
    with torch.no_grad():
        torch.testing.assert_close(model.embed(x), torch.tanh(token @ kernel + bias), rtol=1e-4, atol=1e-5)


def test_timms_copy_without_pre_logits_is_no_source_of_the_name(bucket, official_file, timm_file) -> None:
    data, reference = timm_file
    bucket.add_hf(f"timm/{TIMM_ID}", "model.safetensors", data)
    write_registry(bucket, {NAME: in21k_entry(official_file, timm=TIMM_ID, hf=None)})
    bucket.mode[PATH] = "404"
    with pytest.raises(HubError, match=r"refused for .*has no pre-logits layer; the name's model is with one"):
        vitkit.load(NAME)
    # under its own name it loads as what it is: timm's features, no pre-logits, no head
    model = vitkit.load(f"timm:{TIMM_ID}", num_heads=4)
    assert model.config.representation_size is None and head_state(model) == "absent"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def test_a_file_whose_released_zero_head_is_not_zero_is_refused(bucket, weights) -> None:
    params = dict(weights)
    params["head/bias"] = np.ones(CLASSES_21K, np.float32)
    data = npz_bytes(params)
    bucket.add(PATH, data)
    write_registry(bucket, {NAME: in21k_entry(data, hf=None)})
    with pytest.raises(HubError, match="released this file with a zeroed head, this file's head is not zero"):
        vitkit.load(NAME)


# ---- a feature extractor is not a classifier ------------------------------------------------------------------------


def image_folder(tmp_path: Path, n: int = 3, classes: tuple[str, ...] = ("cat",)) -> Path:
    """An image-folder data set: ``n`` random images in each class sub-folder."""
    from PIL import Image

    folder = tmp_path / "images"
    rng = np.random.default_rng(0)
    for name in classes:
        (folder / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(folder / name / f"{i}.png")
    return folder


def test_predict_eval_serve_refuse_a_feature_extractor_in_one_line(
    bucket, official_file, hf_files, tmp_path, capsys
) -> None:
    serve_all(bucket, official_file, hf_files)
    images = image_folder(tmp_path)
    for argv in (
        ["predict", NAME, str(images / "cat" / "0.png")],
        ["predict", NAME, str(images / "cat" / "0.png"), "--backend", "onnxruntime"],
        ["eval", NAME, "--data", str(images)],
    ):
        assert cli(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "a feature extractor, not a classifier" in err, err
        assert "the authors zeroed this release's head" in err and "vitkit embed" in err and "vitkit finetune" in err
    from vitkit.serve.engine import Engine

    with pytest.raises(NotAClassifierError, match="a feature extractor"):
        Engine(NAME)
    assert cli(["info", NAME]) == 0  # says what the file is
    assert "a feature extractor (head absent); the release's head was zeroed by its authors" in capsys.readouterr().out


def test_the_refusal_names_the_released_classifier(bucket, official_file, hf_files, capsys, tmp_path) -> None:
    serve_all(bucket, official_file, hf_files)
    ft = {**entry(PATH.replace("imagenet21k/", "imagenet21k+imagenet2012/"), official_file), "default": True}
    write_registry(bucket, {NAME: in21k_entry(official_file), "ViT-Ti/4:test-imagenet21k+imagenet2012@32": ft})
    assert cli(["predict", NAME, str(image_folder(tmp_path) / "cat" / "0.png")]) == 2
    assert "or the classifier ViT-Ti/4:test-imagenet21k+imagenet2012" in capsys.readouterr().err


def test_embed_and_fewshot_work_on_a_feature_extractor(bucket, official_file, hf_files, tmp_path, capsys) -> None:
    serve_all(bucket, official_file, hf_files)
    images = image_folder(tmp_path)
    out = tmp_path / "emb.npz"
    assert cli(["embed", NAME, str(images), "-o", str(out)]) == 0
    with np.load(out) as z:
        emb = z["embeddings"]
    assert emb.shape == (3, 64) and np.abs(emb).max() <= 1  # tanh pre-logits
    from PIL import Image

    from vitkit.data.transforms import build_transform

    model = vitkit.load(NAME)
    transform = build_transform(transform_for(model), train=False)
    x = torch.stack([transform(Image.open(images / "cat" / f"{i}.png").convert("RGB")) for i in range(3)])
    with torch.no_grad():
        np.testing.assert_allclose(emb, model.embed(x).numpy(), rtol=1e-5, atol=1e-5)
    data = image_folder(tmp_path / "fewshot", 3, ("cat", "dog"))
    capsys.readouterr()
    assert cli(["fewshot", NAME, "--train", str(data), "--test", str(data), "--shots", "1", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "shots" in out and "1" in out, out  # the probe ran on the pre-logits features


def test_a_users_file_with_an_all_zero_head_is_refused_too(tmp_path, capsys) -> None:
    model = vitkit.create_model("ViT-Ti/16", image_size=32, patch_size=4, hidden_size=64, num_layers=1, num_heads=4,
                                mlp_dim=64, num_classes=5)  # fmt: skip
    assert head_state(model) == "zeroed"  # the paper's zero-initialised head, never trained
    path = tmp_path / "untrained.safetensors"
    vitkit.save(model, path)
    image = image_folder(tmp_path, 1) / "cat" / "0.png"
    assert cli(["predict", str(path), str(image)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{path}: a feature extractor" in err and "all zeros" in err
    with torch.no_grad():
        model.head.bias[0] = 1.0
    vitkit.save(model, path)
    assert cli(["predict", str(path), str(image)]) == 0


# ---- resolution and transform per entry, every family ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(entries()))
def test_the_transform_predict_uses_is_the_entrys(name, monkeypatch) -> None:
    """Each shipped name, read from a file of its architecture as a source delivers it (the released head,
    the converter's own activation and eps): the transform predict uses is the entry's, at its resolution."""
    monkeypatch.delenv("VITKIT_REGISTRY", raising=False)
    e = entries()[name]
    released = e.model_config().replace(num_classes=e.num_classes)
    if hasattr(released, "gelu"):
        released = released.replace(gelu="exact", layer_norm_eps=1e-12)  # as a Hugging Face copy reads
    else:
        released = released.replace(image_size=224)  # a BiT file does not say its resolution
    head = torch.zeros(e.num_classes, 1)
    ckpt = SimpleNamespace(config=released, state_dict={"head.weight": head, "head.bias": head[:, 0]}, extra={},
                           classes=None)  # fmt: skip
    got = SimpleNamespace(path=Path("file"), source="official")
    Resolved(name, SimpleNamespace(entry=e, kind="registry", id=name), got).adopt(ckpt)
    info = ModelInfo.from_checkpoint(name, ckpt.classes, ckpt.extra, name)
    used = transform_for(SimpleNamespace(config=ckpt.config, info=info))
    assert used == e.transform_config() and used.image_size == (e.resolution, e.resolution)
    assert ckpt.config.num_classes == (e.num_classes if e.classifies else 0)
    assert ("head.weight" in ckpt.state_dict) == e.classifies


def bit_npz() -> bytes:
    """A small BiT file in big_transfer's layout (``resnet/root_block/standardized_conv2d/kernel``...): one unit
    per stage, width 32, 10 classes, random weights."""
    from vitkit.checkpoint import bit_format
    from vitkit.models.build import build_model

    cfg = BIT_TEST.replace(image_size=224)
    torch.manual_seed(0)
    model = build_model(cfg)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    return npz_bytes(bit_format.to_npz(model.state_dict(), cfg))


BIT_RESNET = {"num_layers": (1, 1, 1, 1), "width_factor": 0.5, "unit": "pre_act", "padding": "fixed"}
BIT_TEST = vitkit.model_config("BiT-R50x1").replace(
    resnet={**BIT_RESNET, "gn_eps": 1e-5, "ws_eps": 0.0}, num_classes=10
)


def test_bit_evaluates_at_the_registrys_resolution_and_honours_image_size(bucket) -> None:
    data = bit_npz()
    path = "bit_models/BiT-M-R8x1-ILSVRC2012.npz"
    bucket.add(path, data)
    bit_entry = {
        "arch": "BiT-R50x1",
        "arch_overrides": {"resnet": BIT_RESNET},
        "resolution": 480, "data": "test", "labels": "none", "num_classes": 10, "family": "bit", "default": True,
        "official": {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    }  # fmt: skip
    write_registry(bucket, {"BiT-R8x1:test-ilsvrc2012@480": bit_entry})
    model = vitkit.load("BiT-R8x1:test-ilsvrc2012@480")
    assert model.config.image_size == (480, 480) and transform_for(model).image_size == (480, 480)
    assert vitkit.load("BiT-R8x1:test-ilsvrc2012", image_size=448).config.image_size == (448, 448)
    plain = vitkit.load(cached_file(bucket, path))  # the file alone: no resolution of its own, 224
    assert plain.config.image_size == (224, 224)
    assert transform_for(vitkit.load(cached_file(bucket, path), image_size=480)).image_size == (480, 480)


# ---- verified files: size (official listing), record, npz tail ----------------------------------------------------


def test_listed_sizes_read_as_gsutil_prints_them() -> None:
    assert matches_listing(412_815_506, "393.69 MiB") and not matches_listing(412_815_506 - 20_000, "393.69 MiB")
    assert matches_listing(347_497_302, "331.4 MiB")  # gsutil drops the trailing zero
    assert matches_listing(1_217_442_502, "1.13 GiB") and not matches_listing(1_200_000_000, "1.13 GiB")


@pytest.mark.parametrize("damage", ["truncated", "padded", "replaced"])
def test_a_damaged_cached_file_is_refused_in_one_line_and_never_used(
    bucket, official_file, damage, monkeypatch
) -> None:
    bucket.add(PATH, official_file)
    other = "vit_models/imagenet21k/Other.npz"
    bucket.add(other, official_file)
    write_registry(bucket, {NAME: in21k_entry(official_file, hf=None), "ViT-Ti/4:test-other@32":
                            in21k_entry(official_file, hf=None) | {"official": {"path": other}}})  # fmt: skip
    vitkit.hub.fetch_name(NAME)
    vitkit.hub.fetch_name("ViT-Ti/4:test-other@32")
    kept = cached_file(bucket, other).read_bytes(), cached_file(bucket, other).stat().st_mtime_ns
    path = cached_file(bucket, PATH)
    good = path.read_bytes()
    bad = {"truncated": good[:-1000], "padded": good + b"\0", "replaced": good[:-30] + bytes(30)}[damage]
    path.write_bytes(bad)
    monkeypatch.setenv("VITKIT_OFFLINE", "1")
    with pytest.raises(HubError) as e:
        vitkit.load(NAME)
    message = str(e.value)
    assert "\n" not in message and f"refused the cached {path}" in message and "not used" in message
    assert path.read_bytes() == bad  # not used, not deleted: the user's file to inspect
    assert (cached_file(bucket, other).read_bytes(), cached_file(bucket, other).stat().st_mtime_ns) == kept
    monkeypatch.delenv("VITKIT_OFFLINE")
    served = bucket.served.get(PATH, 0)
    vitkit.hub.fetch_name(NAME)  # online: refused, said on stderr, downloaded again over it
    assert path.read_bytes() == good and bucket.served[PATH] == served + len(good)


def test_a_hand_placed_file_of_the_wrong_size_is_refused(bucket, official_file, monkeypatch, capsys) -> None:
    write_registry(bucket, {NAME: in21k_entry(official_file, hf=None)})
    path = cached_file(bucket, PATH)
    path.parent.mkdir(parents=True)
    path.write_bytes(official_file[: len(official_file) // 2])
    monkeypatch.setenv("VITKIT_OFFLINE", "1")
    with pytest.raises(HubError, match=r"bytes, the official listing says \d+(\.\d+)? MiB; not used"):
        vitkit.hub.fetch_name(NAME)
    path.write_bytes(official_file)  # the right file placed by hand: accepted, and recorded
    assert vitkit.hub.fetch_name(NAME).path == path


def test_a_download_of_the_wrong_size_is_refused_before_it_is_kept(bucket, official_file) -> None:
    bucket.add(PATH, official_file + b"x" * 50_000)  # the server offers another file than the listing's
    write_registry(bucket, {NAME: in21k_entry(official_file, hf=None)})
    with pytest.raises(HubError, match=r"the server offers \d+ bytes, the official listing says .*nothing cached"):
        vitkit.hub.fetch_name(NAME)
    assert not cached_file(bucket, PATH).exists()


def test_pretrained_json_says_what_each_name_is(capsys, monkeypatch) -> None:
    monkeypatch.delenv("VITKIT_REGISTRY", raising=False)
    assert cli(["pretrained", "--json", "--filter", "ViT-B/16:imagenet21k"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    raw, ft = rows["ViT-B/16:imagenet21k@224"], rows["ViT-B/16:imagenet21k+imagenet2012@384"]
    assert (raw["head"], raw["pre_logits"], raw["classifier"], raw["listed_size"]) == ("zeroed", True, False,
                                                                                      "393.69 MiB")  # fmt: skip
    assert raw["sources"] == ["official", "hf"] and ft["classifier"] and ft["sources"] == ["official", "timm", "hf"]


def test_a_damaged_hugging_face_copy_is_refused_and_fetched_again(
    bucket, official_file, hf_files, monkeypatch, capsys
) -> None:
    """The Hub stores a large file as blobs/<sha256>: bytes that do not hash to that name are not used."""
    serve_all(bucket, official_file, hf_files)
    bucket.mode[PATH] = "404"
    good = vitkit.load(NAME)
    cached = Path(vitkit.hub.fetch_name(NAME).path / "model.safetensors")  # a link into blobs/
    blob = cached.resolve()
    data = blob.read_bytes()
    blob.write_bytes(data[:-64] + bytes(64))  # replaced bytes, same size
    monkeypatch.setenv("VITKIT_OFFLINE", "1")
    with pytest.raises(HubError) as e:
        vitkit.load(NAME)
    assert "\n" not in str(e.value) and f"refused the cached {cached}" in str(e.value) and "not used" in str(e.value)
    monkeypatch.delenv("VITKIT_OFFLINE")
    capsys.readouterr()
    again = vitkit.load(NAME)  # online: said on stderr, downloaded again
    assert f"refused the cached {cached}" in capsys.readouterr().err and cached.read_bytes() == data
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(again(x), good(x), rtol=0, atol=0)


@pytest.mark.parametrize("size", [0, -5, (224, 0), True, "224"])
def test_a_bit_resolution_that_is_no_size_is_one_line(size, tmp_path) -> None:
    """``image_size`` now reaches BiT models too: a zero, negative or non-int size is refused, never stored."""
    from vitkit.checkpoint.errors import CheckpointError
    from vitkit.models.build import build_model

    path = tmp_path / "bit.safetensors"
    vitkit.save(build_model(BIT_TEST), path)
    with pytest.raises(CheckpointError, match="image_size.*expected a positive int"):
        vitkit.load(path, image_size=size)
