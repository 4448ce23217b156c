"""Persistent indexes (``vitkit index``): built once with their recall@10 recorded, loaded by ``vitkit
neighbors`` and ``vitkit serve --neighbors`` without rebuilding; the server's API key."""

import json
import time

import numpy as np
import pytest
import torch

import vitkit
from vitkit.cli.main import main
from vitkit.use.embeddings_file import Embeddings
from vitkit.use.index import default_nlist, recall_at_k
from vitkit.use.neighbors import cosine_search

faiss = pytest.importorskip("faiss")
pytest.importorskip("pyarrow")

N, D = 3000, 64


@pytest.fixture(scope="module")
def emb_file(tmp_path_factory):
    """Clustered vectors (as real embeddings are), labelled by cluster, with paths."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, D))
    which = rng.integers(0, 30, N)
    x = (centres[which] + 0.4 * rng.normal(size=(N, D))).astype(np.float32)
    path = tmp_path_factory.mktemp("index") / "emb.npz"
    Embeddings(x, [f"img/{i:05d}.png" for i in range(N)], which % 3, ["a", "b", "c"], {"checkpoint": "x"}).save(path)
    return path


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_index_records_its_recall_and_neighbors_loads_it(emb_file, tmp_path, kind, capsys, monkeypatch):
    out = tmp_path / kind
    assert main(["index", str(emb_file), str(out), "--kind", kind, "--queries", "200"]) == 0
    assert "recall@10" in capsys.readouterr().out
    meta = json.loads((out / "index.json").read_text())
    assert meta["rows"] == N and meta["recall_queries"] == 200 and meta["recall_at_10"] >= 0.95 and meta["target_met"]
    if kind == "ivf":
        assert meta["nlist"] == default_nlist(N) and "nprobe" in meta["params"]
    # loading is not building: no training, no adding
    monkeypatch.setattr(faiss, "index_factory", lambda *a: pytest.fail("rebuilt the index"))
    assert main(["neighbors", str(out), "17", "img/00040.png", "-k", "5", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    x = np.load(emb_file)["embeddings"]
    exact = [cosine_search(x, x[[q]], 6)[1][0] for q in (17, 40)]
    for res, want, q in zip(results, exact, (17, 40)):
        got = [n["index"] for n in res["neighbors"]]
        assert q not in got and len(got) == 5
        overlap = len(set(got) & set(want[want != q][:5].tolist()))
        assert overlap == 5 if kind == "flat" else overlap >= 3
        assert res["neighbors"][0]["path"] == f"img/{got[0]:05d}.png" and res["neighbors"][0]["class"] in "abc"


def test_recall_is_measured_against_exact_search():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(truth, truth) == 1.0
    assert recall_at_k(np.array([[1, 2, 9, 9], [8, 7, -1, -1]]), truth) == 0.5


def test_a_damaged_index_is_refused_in_one_line(emb_file, tmp_path, capsys):
    out = tmp_path / "ix"
    assert main(["index", str(emb_file), str(out), "--kind", "flat", "--queries", "10"]) == 0
    data = (out / "index.faiss").read_bytes()
    (out / "index.faiss").write_bytes(data[:-100])
    capsys.readouterr()
    assert main(["neighbors", str(out), "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not match its index.json" in err and "\n" not in err


# ------------------------------------------------------------------------------------------ serve


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiny checkpoint, a folder embedded with it and indexed: what serve --neighbors loads."""
    pytest.importorskip("fastapi")
    from PIL import Image

    root = tmp_path_factory.mktemp("serve-index")
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16", image_size=32, patch_size=8, hidden_size=64, num_layers=2, num_heads=2, mlp_dim=128, num_classes=3
    )
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
    vitkit.save(model, root / "m.safetensors", classes=["a", "b", "c"])
    rng = np.random.default_rng(0)
    for c in "abc":
        (root / "imgs" / c).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / "imgs" / c / f"{i}.png")
    assert (
        main(["embed", str(root / "m.safetensors"), str(root / "imgs"), "-o", str(root / "emb"), "--workers", "0"]) == 0
    )
    assert main(["index", str(root / "emb"), str(root / "ix"), "--kind", "flat", "--queries", "10"]) == 0
    return root


def _client(root, api_key):
    from fastapi.testclient import TestClient

    from vitkit.serve.app import ServeOptions, create_app
    from vitkit.serve.engine import Engine
    from vitkit.serve.gallery import Gallery

    engine = Engine(str(root / "m.safetensors"))
    gallery = Gallery(root / "ix", int(engine.config.embed_dim), 10**8)
    return TestClient(create_app(engine, ServeOptions(api_key=api_key), gallery))


def test_serve_answers_from_the_index_and_requires_the_api_key(served):
    image = (served / "imgs" / "b" / "3.png").read_bytes()
    with _client(served, "s3cret") as client:
        for _ in range(600):  # warm-up runs after start-up; /healthz stays open (a load balancer's probe)
            if client.get("/healthz").status_code == 200:
                break
            time.sleep(0.05)
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200  # the page asks for the key itself
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            res = client.post("/v1/neighbors?k=3", files={"image": ("x.png", image)}, headers=headers)
            assert res.status_code == 401 and list(res.json()) == ["error"] and "\n" not in res.text
            assert client.get("/v1/model", headers=headers).status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        info = client.get("/v1/model", headers=auth).json()["neighbors"]
        assert info["rows"] == 24 and info["index"]["kind"] == "flat" and info["index"]["recall_at_10"] == 1.0
        res = client.post("/v1/neighbors?k=3", files={"image": ("x.png", image)}, headers=auth)
        assert res.status_code == 200
        best = res.json()["neighbors"][0][0]
        assert best["path"].endswith("b/3.png") and best["score"] > 0.9999
        assert client.get(f"/v1/thumbnail/{best['index']}", headers=auth).status_code == 200
        assert client.get(f"/v1/thumbnail/{best['index']}").status_code == 401


def test_the_api_key_comes_from_a_file_or_the_environment(tmp_path, monkeypatch, capsys):
    from vitkit.errors import ConfigError
    from vitkit.serve.auth import is_loopback, load_api_key

    (tmp_path / "key").write_text("  abc \n")
    assert load_api_key(str(tmp_path / "key")) == "abc"
    monkeypatch.setenv("VITKIT_API_KEY", "from-env")
    assert load_api_key(None) == "from-env"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        load_api_key(str(tmp_path / "empty"))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_the_cli_offers_every_kind() -> None:
    from vitkit.cli import index as cli_index
    from vitkit.use.index import KINDS

    assert tuple(cli_index.KINDS) == tuple(KINDS)
