"""The Ray path (``vitkit.use.ray``) on a local Ray instance with 2 actors: every row once, the same vectors as
``vitkit embed`` (the torchrun path) to 1e-5, an unreadable image recorded with its reason and no vector,
rows given as paths or as bytes, ``strict`` fatal, bad arguments refused in one line."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from vitkit.cli.main import main
from vitkit.collection.read import load_embeddings
from vitkit.collection.store import SKIPPED
from vitkit.errors import ConfigError

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet  # noqa: E402, F401 (pa.parquet below)

from vitkit.use import ray as vray  # noqa: E402

pytestmark = pytest.mark.slow  # a Ray instance starts in ~10 s on 2 cores

TINY = dict(image_size=32, patch_size=8, hidden_size=64, num_layers=2, num_heads=2, mlp_dim=128, num_classes=3)
COUNTS = {"a": 6, "b": 5}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    rng = np.random.default_rng(0)
    for name, n in COUNTS.items():
        (root / "imgs" / name).mkdir(parents=True)
        for i in range(n):  # sizes differ: the transform resizes each one
            h, w = int(rng.integers(20, 60)), int(rng.integers(20, 60))
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
            (root / "imgs" / name / f"{i:03d}.png").write_bytes(buf.getvalue())
    (root / "imgs" / "b" / "zz_bad.png").write_bytes(b"not a png")
    torch.manual_seed(0)
    ckpt = vitkit.save(vitkit.create_model("ViT-Ti/16", **TINY), root / "m.safetensors", classes=list(COUNTS) + ["c"])
    out = root / "torchrun"
    assert main(["embed", str(ckpt), str(root / "imgs"), "-o", str(out), "--workers", "0", "--no-progress"]) == 0
    # 2 actors of 1 CPU each, and a third logical CPU for the tasks that read files (with every CPU held by an
    # actor, read_binary_files never starts)
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 2**20)
    yield {"root": root, "ckpt": ckpt, "want": load_embeddings(out), "skipped": pa.parquet.read_table(out / SKIPPED)}
    ray.shutdown()


def _by_path(rows):
    return {r["path"]: r for r in rows}


def test_ray_gives_every_row_once_with_the_vectors_of_the_torchrun_path(setup):
    want = setup["want"]
    ds = vray.from_data(str(setup["root"] / "imgs"))
    rows = vray.embed(ds, setup["ckpt"], actors=2, threads=1, batch_size=4).take_all()
    assert len(rows) == len(want.paths) + 1  # the unreadable file is a row too
    got = _by_path(rows)
    assert len(got) == len(rows)
    for i, path in enumerate(want.paths):
        assert got[path]["skipped"] is None
        assert got[path]["label"] == want.labels[i]
        np.testing.assert_allclose(np.asarray(got[path]["embedding"]), want.embeddings[i], rtol=0, atol=1e-5)
    bad = setup["skipped"].column("path").to_pylist()
    assert len(bad) == 1 and got[bad[0]]["embedding"] is None
    assert "cannot decode image" in got[bad[0]]["skipped"] and bad[0] in got[bad[0]]["skipped"]


def test_rows_carrying_bytes_give_the_same_vectors(setup):
    want = setup["want"]
    ds = ray.data.read_binary_files(sorted(want.paths), include_paths=True)
    got = _by_path(vray.embed(ds, setup["ckpt"], actors=2, normalize=True).take_all())
    assert set(got) == set(want.paths) and "bytes" not in next(iter(got.values()))
    unit = want.embeddings / np.linalg.norm(want.embeddings, axis=1, keepdims=True)
    for i, path in enumerate(want.paths):
        np.testing.assert_allclose(np.asarray(got[path]["embedding"]), unit[i], rtol=0, atol=1e-5)


def test_strict_stops_at_an_unreadable_image(setup):
    b = setup["root"] / "imgs" / "b"
    ds = vray.from_data([str(b / "000.png"), str(b / "zz_bad.png")])
    with pytest.raises(Exception, match="zz_bad.png: cannot decode image"):
        vray.embed(ds, setup["ckpt"], actors=1, strict=True).take_all()


def test_bad_arguments_are_refused_before_any_actor_starts(setup, tmp_path):
    ds = vray.from_data(str(setup["root"] / "imgs"))
    with pytest.raises(ConfigError, match="actors: expected a positive int, got 0"):
        vray.embed(ds, setup["ckpt"], actors=0)
    with pytest.raises(ConfigError, match="actors x threads = 4 CPUs, but the Ray cluster has 3"):
        vray.embed(ds, setup["ckpt"], actors=2, threads=2)
    with pytest.raises(vitkit.VitkitError, match="missing.safetensors: no such file"):
        vray.embed(ds, tmp_path / "missing.safetensors")
    with pytest.raises(vitkit.VitkitError, match="Ray path reads image files"):
        vray.from_data("digits")
    with pytest.raises(vitkit.VitkitError, match="no class sub-folders"):
        vray.from_data(str(setup["root"] / "imgs" / "a"))
