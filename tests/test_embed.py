"""Embeddings to a file (resumable, normalised, npz or parquet) and nearest-neighbour search over them."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from vitkit.cli.main import main
from vitkit.collection.read import load_embeddings
from vitkit.data import batch_transform, open_dataset
from vitkit.models.config import BiTConfig, ResNetConfig
from vitkit.models.transform import transform_for
from vitkit.use.embed import embed_dataset, embed_to_file, partial_dir
from vitkit.use.embeddings_file import Embeddings
from vitkit.use.neighbors import cosine_search, faiss_search, search

TINY = dict(image_size=16, patch_size=4, hidden_size=32, num_layers=2, num_heads=2, mlp_dim=64, num_classes=10)
N_TEST = 359  # digits:test


@pytest.fixture(scope="module")
def vit_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = vitkit.create_model("ViT-Ti/16", **TINY)
    path = tmp_path_factory.mktemp("ckpt") / "vit.safetensors"
    vitkit.save(model, path, classes=[str(i) for i in range(10)])
    return path


@pytest.fixture(scope="module")
def digits():
    return open_dataset("digits:test")


@pytest.fixture(scope="module")
def reference(vit_ckpt, digits):
    """The embeddings computed directly: model.embed on the checkpoint's transform of every image."""
    model = vitkit.load(vit_ckpt)
    with torch.no_grad():
        return model.embed(batch_transform(digits.images, transform_for(model), train=False)).numpy()


def test_embed_cli_writes_embeddings_paths_labels_classes(tmp_path, vit_ckpt, digits, reference, capsys):
    out = tmp_path / "emb.npz"
    assert main(["embed", str(vit_ckpt), "digits:test", "-o", str(out), "--batch-size", "100"]) == 0
    assert f"{N_TEST} embeddings of dimension 32" in capsys.readouterr().out
    e = load_embeddings(out)
    assert e.embeddings.dtype == np.float32 and e.embeddings.shape == (N_TEST, 32)
    np.testing.assert_allclose(e.embeddings, reference, rtol=1e-5, atol=1e-6)
    assert e.paths[17] == "digits:test:17" and len(e.paths) == N_TEST
    assert np.array_equal(e.labels, digits.labels.numpy()) and e.classes == [str(i) for i in range(10)]
    assert e.meta["data"] == "digits:test" and e.meta["checkpoint"].endswith("vit.safetensors")
    assert not partial_dir(out).exists()
    with np.load(out, allow_pickle=False) as z:  # a plain npz, readable without vitkit
        assert {"embeddings", "paths", "labels", "classes"} <= set(z.files)


def test_embed_resumes_after_an_interruption_without_recomputing(tmp_path, vit_ckpt, digits):
    model = vitkit.load(vit_ckpt)
    full = embed_to_file(model, digits, tmp_path / "full.npz", batch_size=50, chunk_size=64)
    out, computed = tmp_path / "cut.npz", []

    class Stop(Exception):
        pass

    def stop_after_three(i):
        computed.append(i)
        if i == 2:
            raise Stop

    with pytest.raises(Stop):
        embed_to_file(model, digits, out, batch_size=50, chunk_size=64, on_chunk=stop_after_three)
    assert not out.exists()
    folder = partial_dir(out)
    assert sorted(p.name for p in folder.glob("chunk_*.npz")) == [f"chunk_0000{i}.npz" for i in range(3)]
    assert json.loads((folder / "progress.json").read_text())["done"] == 3
    computed.clear()
    resumed = embed_to_file(model, digits, out, batch_size=50, chunk_size=64, on_chunk=computed.append)
    assert computed == [3, 4, 5]  # 359 images in chunks of 64: only the last three were embedded again
    # the resumed run batches images 192.. from 192 on, not from 150: BLAS kernels may round a row
    # differently in another batch position, so equal to float32 rounding, not bit for bit
    np.testing.assert_allclose(resumed.embeddings, full.embeddings, rtol=1e-5, atol=1e-6)
    assert np.array_equal(resumed.embeddings[:192], full.embeddings[:192])  # the kept chunks, as written
    np.testing.assert_array_equal(load_embeddings(out).embeddings, resumed.embeddings)
    assert not folder.exists()


def test_chunks_smaller_than_a_batch(tmp_path, vit_ckpt, digits, reference):
    model = vitkit.load(vit_ckpt)
    done = []
    e = embed_to_file(model, digits, tmp_path / "e.npz", batch_size=100, chunk_size=30, on_chunk=done.append)
    assert done == list(range(12))  # ceil(359 / 30)
    np.testing.assert_allclose(e.embeddings, reference, rtol=1e-5, atol=1e-6)


def test_a_partial_folder_of_another_job_is_discarded(tmp_path, vit_ckpt, digits, capsys):
    model = vitkit.load(vit_ckpt)
    out = tmp_path / "e.npz"

    def stop(i):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_to_file(model, digits, out, chunk_size=100, on_chunk=stop, job={"checkpoint": "a"})
    computed = []
    embed_to_file(model, digits, out, chunk_size=100, on_chunk=computed.append, job={"checkpoint": "b"})
    assert computed == [0, 1, 2, 3]
    assert "discarding" in capsys.readouterr().err


def test_normalize(tmp_path, vit_ckpt, reference):
    out = tmp_path / "n.npz"
    assert main(["embed", str(vit_ckpt), "digits:test", "-o", str(out), "--normalize"]) == 0
    e = load_embeddings(out)
    np.testing.assert_allclose(np.linalg.norm(e.embeddings, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(e.embeddings, reference / np.linalg.norm(reference, axis=1, keepdims=True), atol=1e-5)
    assert e.meta["normalized"] is True


def test_parquet_round_trip(tmp_path, vit_ckpt):
    pytest.importorskip("pyarrow")
    out = tmp_path / "e.parquet"
    assert main(["embed", str(vit_ckpt), "digits:test", "-o", str(out)]) == 0
    assert main(["embed", str(vit_ckpt), "digits:test", "-o", str(tmp_path / "e.npz")]) == 0
    pq, npz = load_embeddings(out), load_embeddings(tmp_path / "e.npz")
    assert np.array_equal(pq.embeddings, npz.embeddings) and pq.paths == npz.paths
    assert np.array_equal(pq.labels, npz.labels) and pq.classes == npz.classes and pq.meta == npz.meta


def test_bit_embedding_is_the_pooled_feature_vector(digits):
    torch.manual_seed(0)
    bit = vitkit.build_model(
        BiTConfig(resnet=ResNetConfig((1,), 0.5, unit="pre_act"), num_classes=10, image_size=16)
    ).eval()
    e = embed_dataset(bit, digits)
    with torch.no_grad():
        x = batch_transform(digits.images[:5], transform_for(bit), train=False)
        pooled = bit.forward_features(x).mean(dim=(2, 3))
    assert e.embeddings.shape == (N_TEST, bit.config.embed_dim)
    np.testing.assert_allclose(e.embeddings[:5], pooled.numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ neighbours


def brute_force(db, q, k):
    sims = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (db / np.linalg.norm(db, axis=1, keepdims=True)).T
    ids = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, ids, 1), ids


def test_exact_search_equals_brute_force_across_chunks():
    rng = np.random.default_rng(0)
    db, q = rng.normal(size=(1000, 24)).astype(np.float32), rng.normal(size=(7, 24)).astype(np.float32)
    want_s, want_i = brute_force(db, q, 15)
    for chunk in (97, 1000, 4096):
        scores, ids = cosine_search(db, q, 15, chunk_size=chunk)
        assert np.array_equal(ids, want_i), chunk
        np.testing.assert_allclose(scores, want_s, rtol=1e-5, atol=1e-6)
    scores, ids = search(db, db[[3, 10]], 5, exclude=[3, None])  # a row query leaves itself out
    assert 3 not in ids[0] and ids[1][0] == 10
    assert np.array_equal(ids[0], brute_force(db, db[[3]], 6)[1][0][1:])
    assert cosine_search(db[:4], q, 10)[1].shape == (7, 4)  # k above N: every row


def test_faiss_search_matches_exact():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    db, q = rng.normal(size=(2000, 16)).astype(np.float32), rng.normal(size=(5, 16)).astype(np.float32)
    want = cosine_search(db, q, 10)[1]
    assert np.array_equal(faiss_search(db, q, 10)[1], want)
    ivf = faiss_search(db, q, 10, ivf_threshold=100, nlist=8, nprobe=8)[1]  # every cell probed: exact
    assert np.array_equal(ivf, want)


def test_neighbors_cli_by_row_path_and_image(tmp_path, vit_ckpt, digits, capsys):
    emb = tmp_path / "emb.npz"
    assert main(["embed", str(vit_ckpt), "digits:test", "-o", str(emb)]) == 0
    image = tmp_path / "five.png"
    Image.fromarray(digits.images[5].numpy()).save(image)  # image 5 as a file: its embedding is row 5's
    capsys.readouterr()
    assert (
        main(
            [
                "neighbors",
                str(emb),
                "17",
                "digits:test:40",
                str(image),
                "-k",
                "4",
                "--json",
                "--checkpoint",
                str(vit_ckpt),
            ]
        )
        == 0
    )
    results = json.loads(capsys.readouterr().out)
    e = load_embeddings(emb)
    assert [r["query"] for r in results] == ["17", "digits:test:40", str(image)]
    assert results[0]["index"] == 17 and results[1]["index"] == 40 and results[2]["index"] is None
    _, want = brute_force(e.embeddings, e.embeddings[[17]], 5)
    assert [n["index"] for n in results[0]["neighbors"]] == [i for i in want[0] if i != 17][:4]
    assert results[0]["neighbors"][0]["path"] == f"digits:test:{results[0]['neighbors'][0]['index']}"
    assert results[2]["neighbors"][0]["index"] == 5 and results[2]["neighbors"][0]["score"] > 0.9999
    assert main(["neighbors", str(emb), "17", "-k", "3"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("query 17 (digits:test:17)") and len(table.strip().splitlines()) == 5


def test_neighbors_errors_are_one_line(tmp_path, vit_ckpt, capsys):
    emb = tmp_path / "emb.npz"
    Embeddings(np.ones((3, 4)), ["a", "b", "c"]).save(emb)
    np.savez(tmp_path / "other.npz", features=np.zeros((2, 2)))
    cases = [
        ([str(tmp_path / "missing.npz"), "0"], "no such embeddings file"),
        ([str(tmp_path / "other.npz"), "0"], "no 'embeddings' array"),
        ([str(emb), "nothing"], "not a row number, a path in the file, nor an image file"),
        ([str(emb), "7"], "index out of range"),
    ]
    for args, message in cases:
        assert main(["neighbors", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("vitkit neighbors: error:") and message in err and "\n" not in err
