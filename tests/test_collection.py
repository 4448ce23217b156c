"""Collections (``vitkit.collection``): embed/predict/eval of a whole data set on 2 ranks (torchrun, gloo),
every input row exactly once in input order, resumable per part, one job per folder, bad images skipped."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from vitkit.cli.main import main
from vitkit.collection.heads import EmbedHead
from vitkit.collection.lock import FolderLock
from vitkit.collection.read import load_embeddings
from vitkit.collection.run import run_collection
from vitkit.collection.store import SKIPPED, part_name
from vitkit.data import open_dataset
from vitkit.models.transform import transform_for
from vitkit.train.distributed import Dist

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet  # noqa: E402

TINY = dict(image_size=32, patch_size=8, hidden_size=64, num_layers=2, num_heads=2, mlp_dim=128, num_classes=3)
PACKAGE_ROOT = Path(vitkit.__file__).resolve().parents[1]
COUNTS = {"a": 13, "b": 12, "c": 12}  # 37 images + 1 unreadable: 38 files, parts of 8 -> 8, 8, 8, 8, 6
SHARDS = (5, 0, 4, 2)  # samples per shard; the second is empty


def _png(rng) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _checkpoint(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = vitkit.create_model("ViT-Ti/16", **TINY)
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)  # a classifier, not a zero-head feature extractor
    vitkit.save(model, path, classes=list(COUNTS))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("collection")
    rng = np.random.default_rng(0)
    for name, n in COUNTS.items():
        (root / "imgs" / name).mkdir(parents=True)
        for i in range(n):
            (root / "imgs" / name / f"{i:03d}.png").write_bytes(_png(rng))
    (root / "imgs" / "b" / "zz_bad.png").write_bytes(b"not a png")
    (root / "shards").mkdir()
    for k, n in enumerate(SHARDS):
        with tarfile.open(root / "shards" / f"s-{k}.tar", "w") as tar:
            for i in range(n):
                for ext, data in (("png", _png(rng)), ("cls", str(i % 3).encode())):
                    info = tarfile.TarInfo(f"k{k}-{i:03d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return {
        "root": root,
        "imgs": root / "imgs",
        "shards": str(root / "shards" / "s-{0..3}.tar"),
        "ckpt": _checkpoint(root / "m.safetensors", 0),
        "other": _checkpoint(root / "other.safetensors", 1),
    }


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "vitkit",
        *args,
    ]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def good_files(imgs: Path) -> list[str]:
    return [str(imgs / c / f"{i:03d}.png") for c, n in COUNTS.items() for i in range(n)]


def test_two_ranks_embed_every_image_once_in_order_and_list_the_unreadable_one(files, tmp_path):
    out = tmp_path / "emb"
    proc = torchrun(
        "embed",
        str(files["ckpt"]),
        str(files["imgs"]),
        "-o",
        str(out),
        "--part-size",
        "8",
        "--workers",
        "1",
        cwd=tmp_path,
    )
    assert proc.stdout.count("37 embeddings of dimension 64") == 1  # rank 0 alone reports
    assert "1 images skipped" in proc.stdout and "zz_bad.png" in proc.stderr
    manifest = json.loads((out / "_manifest.json").read_text())
    assert [p["rows"] for p in manifest["parts"]] == [8, 8, 8, 7, 6] and manifest["rows"] == 37
    assert [p["offset"] for p in manifest["parts"]] == [0, 8, 16, 24, 31]
    e = load_embeddings(out)
    assert e.paths == good_files(files["imgs"]) and e.classes == list(COUNTS)
    assert e.labels.tolist() == [0] * 13 + [1] * 12 + [2] * 12
    skipped = pyarrow.parquet.read_table(out / SKIPPED).to_pylist()
    assert len(skipped) == 1 and skipped[0]["path"].endswith("zz_bad.png") and "\n" not in skipped[0]["reason"]
    # one process gives the same rows (the same model, images, transform)
    assert (
        main(["embed", str(files["ckpt"]), str(files["imgs"]), "-o", str(tmp_path / "one.npz"), "--workers", "0"]) == 0
    )
    one = load_embeddings(tmp_path / "one.npz")
    assert one.paths == e.paths
    np.testing.assert_allclose(one.embeddings, e.embeddings, rtol=1e-5, atol=1e-5)
    # other readers see one table in the same order
    assert pyarrow.dataset.dataset(out).to_table().column("path").to_pylist() == e.paths


def test_two_ranks_shards_with_an_empty_one_into_one_npz(files, tmp_path):
    out = tmp_path / "sh.npz"
    torchrun("embed", str(files["ckpt"]), files["shards"], "-o", str(out), "--workers", "2", cwd=tmp_path)
    e = load_embeddings(out)
    want = [f"{files['shards'].replace('{0..3}', str(k))}:k{k}-{i:03d}" for k, n in enumerate(SHARDS) for i in range(n)]
    assert e.paths == want and len(e) == sum(SHARDS)
    assert not Path(str(out) + ".partial").exists()


def test_two_ranks_eval_all_reduces_and_prints_once(files, tmp_path):
    proc = torchrun("eval", str(files["ckpt"]), "--data", str(files["imgs"]), "--no-progress", cwd=tmp_path)
    assert proc.stdout.count("images 37 ") == 1 and "1 images skipped" in proc.stdout


def test_predict_a_folder_into_a_collection(files, tmp_path):
    out = tmp_path / "pred"
    assert (
        main(["predict", str(files["ckpt"]), str(files["imgs"]), "-o", str(out), "-k", "2", "--part-size", "10"]) == 0
    )
    table = pyarrow.dataset.dataset(out).to_table().to_pylist()
    assert [r["path"] for r in table] == good_files(files["imgs"])
    assert all(len(r["top_class"]) == 2 and r["top_class"][0] in COUNTS for r in table)
    want = vitkit.use.predict.predict_images(vitkit.load(files["ckpt"]), [table[3]["path"]], k=2)[0]["top"]
    assert [t["class"] for t in want] == table[3]["top_class"]


def _embed(files, out, **kwargs):
    model = vitkit.load(files["ckpt"])
    data = open_dataset(str(files["imgs"]))
    head = EmbedHead(model)
    identity = {"checkpoint": str(files["ckpt"]), "input": "imgs"}
    return run_collection(
        head, data, out, identity, transform_for(model), Dist(), part_size=8, progress=False, **kwargs
    )


def test_a_killed_job_resumes_writing_only_the_missing_or_incomplete_parts(files, tmp_path):
    out = tmp_path / "emb"

    class Killed(Exception):
        pass

    def kill_after_two(i):
        if i == 1:
            raise Killed

    with pytest.raises(Killed):
        _embed(files, out, on_part=kill_after_two)
    assert sorted(p.name for p in out.glob("part-*")) == [part_name(0), part_name(1)]
    assert not (out / "_manifest.json").exists()
    (out / f".{part_name(2)}.abc.tmp").write_bytes(b"half a part")  # what kill -9 mid-write leaves
    done = []
    summary = _embed(files, out, on_part=done.append)
    assert done == [2, 3, 4] and summary.rows == 37 and summary.written == 3
    assert not list(out.glob(".*.tmp"))
    # a part lost, another truncated: only those two are written again
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    (out / part_name(1)).unlink()
    data = (out / part_name(3)).read_bytes()
    (out / part_name(3)).write_bytes(data[: len(data) // 2])
    (out / "_manifest.json").unlink()
    done.clear()
    summary = _embed(files, out, on_part=done.append)
    assert done == [1, 3] and summary.rows == 37
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    assert all(after[n] == before[n] for n in (part_name(0), part_name(2), part_name(4)))
    assert load_embeddings(out).paths == good_files(files["imgs"])
    done.clear()
    assert _embed(files, out, on_part=done.append).rows == 37 and done == []  # finished: nothing to do


def _one_line_error(capsys, args, *needles):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_a_changed_model_or_input_is_refused_not_mixed_in(files, tmp_path, capsys):
    out = tmp_path / "emb"
    args = ["embed", str(files["ckpt"]), str(files["imgs"]), "-o", str(out), "--part-size", "8", "--no-progress"]
    assert main(args) == 0
    parts = sorted(out.glob("part-*"))
    _one_line_error(capsys, ["embed", str(files["other"]), *args[2:]], "different job", "checkpoint")
    _one_line_error(capsys, ["embed", str(files["ckpt"]), files["shards"], *args[3:]], "different job")
    _one_line_error(capsys, [*args[:-2], "16", "--no-progress"], "different job", "part_size")
    assert sorted(out.glob("part-*")) == parts  # untouched
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    _one_line_error(capsys, [*args[:3], "-o", str(tmp_path / "busy")], "not a vitkit output folder")


def test_a_second_job_on_the_same_folder_is_refused(files, tmp_path, capsys):
    out = tmp_path / "emb"
    lock = FolderLock(out, "vitkit embed").acquire()  # the first job, still running
    try:
        _one_line_error(
            capsys, ["embed", str(files["ckpt"]), str(files["imgs"]), "-o", str(out)], "in use by another job"
        )
    finally:
        lock.release()
    assert main(["embed", str(files["ckpt"]), str(files["imgs"]), "-o", str(out), "--no-progress"]) == 0


def test_strict_makes_an_unreadable_image_fatal(files, tmp_path, capsys):
    args = ["embed", str(files["ckpt"]), str(files["imgs"]), "-o", str(tmp_path / "e"), "--strict", "--workers", "0"]
    _one_line_error(capsys, args, "zz_bad.png", "--strict")
