"""``vitkit serve``: the real server in a subprocess, over HTTP: every endpoint against the offline library,
every bad input, 64 concurrent clients, the request timeout and a graceful shutdown with a request in flight."""

import io
import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from serve_util import raw_request_start, read_response
from vitkit.cli.main import main
from vitkit.collection.read import load_embeddings
from vitkit.data import build_transform, load_image
from vitkit.inspect.rollout import rollout_grid
from vitkit.models.transform import transform_for
from vitkit.serve.loadgen import multipart_body as multipart
from vitkit.serve.server_process import ServerProcess
from vitkit.use.embed import embed_images
from vitkit.use.neighbors import cosine_search
from vitkit.use.predict import predict_images

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TINY = {
    "image_size": 16,
    "patch_size": 4,
    "hidden_size": 32,
    "num_layers": 3,
    "num_heads": 2,
    "mlp_dim": 64,
    "num_classes": 10,
}
CLASSES = [f"class {i}" for i in range(10)]


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny ViT checkpoint with class names (a random head: the official zero head predicts uniformly),
    a folder of images of assorted sizes and modes, and its embeddings file (``vitkit embed``)."""
    root = tmp_path_factory.mktemp("serve")
    torch.manual_seed(0)
    model = vitkit.create_model("ViT-Ti/16", **TINY)
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
        model.head.bias.normal_(0, 0.1)
    ckpt = root / "tiny.safetensors"
    vitkit.save(model, ckpt, classes=CLASSES)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        folder = root / "images" / ("cats" if i % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        h, w = rng.integers(12, 64, size=2)
        shape = (h, w) if i % 4 == 3 else (h, w, 4) if i % 4 == 1 else (h, w, 3)  # grey, RGBA and RGB
        path = folder / f"img{i:02d}.png"
        path.write_bytes(png(rng.integers(0, 256, size=shape, dtype=np.uint8)))
        paths.append(path)
    emb = root / "emb.npz"
    assert main(["embed", str(ckpt), str(root / "images"), "-o", str(emb)]) == 0
    return SimpleNamespace(root=root, ckpt=ckpt, paths=sorted(paths), emb=emb, model=vitkit.load(ckpt))


@pytest.fixture(scope="module")
def server(files):
    srv = ServerProcess(
        [str(files.ckpt), "--neighbors", str(files.emb), "--max-batch", "16"], files.root / "server.log"
    )
    try:
        yield srv.wait_ready()
    finally:
        assert srv.stop() == 0, srv.output()
    assert "Traceback" not in srv.output(), srv.output()


def post(server, path, files_, field="image", **params):
    return httpx.post(
        server.url + path, files=[(field, (p.name, p.read_bytes())) for p in files_], params=params, timeout=60
    )


def test_healthz_model_info_and_openapi_docs(server, files):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ready"}
    info = httpx.get(server.url + "/v1/model").json()
    assert info["classes"] == CLASSES and info["num_classes"] == 10 and info["embed_dim"] == 32
    assert info["config"]["num_layers"] == 3 and info["transform"]["image_size"] == [16, 16]
    assert info["backend"] == "torch" and info["attention"] and info["max_batch"] == 16
    assert info["neighbors"] == {"file": str(files.emb), "rows": 12, "dim": 32, "thumbnails": 12}
    spec = httpx.get(server.url + "/openapi.json").json()
    for route in ("/healthz", "/v1/model", "/v1/predict", "/v1/embed", "/v1/neighbors", "/v1/attention"):
        assert route in spec["paths"], route
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "image" in body["required"]
    assert "swagger" in httpx.get(server.url + "/docs").text.lower()


def test_predict_equals_offline_predict(server, files):
    res = post(server, "/v1/predict", files.paths[:5], k=3)
    assert res.status_code == 200
    body = res.json()
    assert body["model"] == str(files.ckpt) and len(body["predictions"]) == 5
    offline = predict_images(files.model, files.paths[:5], k=3)
    for got, want in zip(body["predictions"], offline):
        assert [g["index"] for g in got] == [w["index"] for w in want["top"]]
        assert [g["label"] for g in got] == [w["class"] for w in want["top"]]
        np.testing.assert_allclose([g["score"] for g in got], [w["prob"] for w in want["top"]], atol=1e-5, rtol=0)
    assert len(post(server, "/v1/predict", files.paths[:1]).json()["predictions"][0]) == 5  # k=5 by default


def test_embed_equals_offline_embeddings(server, files):
    body = post(server, "/v1/embed", files.paths[:4]).json()
    assert body["dim"] == 32
    want = embed_images(files.model, files.paths[:4])
    np.testing.assert_allclose(np.array(body["embeddings"]), want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(want, load_embeddings(files.emb).embeddings[:4], atol=1e-5)  # same as `vitkit embed`


def test_neighbors_are_the_exact_cosine_neighbours_with_thumbnails(server, files):
    body = post(server, "/v1/neighbors", files.paths[3:4], k=4).json()
    rows = body["neighbors"][0]
    emb = load_embeddings(files.emb)
    scores, ids = cosine_search(emb.embeddings, embed_images(files.model, files.paths[3:4]), 4)
    assert [r["index"] for r in rows] == ids[0].tolist()
    np.testing.assert_allclose([r["score"] for r in rows], scores[0], atol=1e-5)
    assert rows[0]["path"] == str(files.paths[3]) and rows[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert rows[0]["class"] in ("cats", "dogs") and rows[0]["rank"] == 1
    thumb = httpx.get(server.url + rows[0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(thumb.content)).size == load_image(files.paths[3]).size  # small: not shrunk


def test_thumbnails_only_for_rows_of_the_embeddings_file(server):
    for path in [
        "/v1/thumbnail/12",
        "/v1/thumbnail/-1",
        "/v1/thumbnail/..%2Fetc%2Fpasswd",
        "/v1/thumbnail/abc",
        "/v1/thumbnail/%2Fetc%2Fpasswd",
        "/../../etc/passwd",
        "/assets/..%2F..%2Fapp.py",
    ]:
        res = httpx.get(server.url + path)
        assert res.status_code in (404, 422), (path, res.text)
        assert "root:" not in res.text and set(res.json()) == {"error"}


def test_attention_rollout_per_layer_equals_the_library(server, files):
    body = post(server, "/v1/attention", files.paths[:2]).json()
    maps = body["attention"]
    assert len(maps) == 2 and all(m["grid"] == [4, 4] and m["num_layers"] == 3 for m in maps)
    x = torch.stack([build_transform(transform_for(files.model), train=False)(load_image(p)) for p in files.paths[:2]])
    for layers in range(1, 4):  # the rollout through the first `layers` blocks = a model cut after them
        cut = vitkit.load(files.ckpt)
        cut.blocks = cut.blocks[:layers]
        want = rollout_grid(cut, x).reshape(2, -1)
        want = (want - want.min(1, keepdims=True)) / (want.max(1, keepdims=True) - want.min(1, keepdims=True))
        got = np.array([m["layers"][layers - 1] for m in maps])
        np.testing.assert_allclose(got, want, atol=1e-4)  # the server rounds to 4 decimals
    assert maps[0]["view"] == {"top": 0.0, "left": 0.0, "height": 1.0, "width": 1.0}  # crop_pct 1: the whole image


def test_the_page_and_its_assets_are_served(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and 'src="/assets/app.js"' in page.text
    for asset in ("app.js", "style.css"):
        assert httpx.get(server.url + "/assets/" + asset).status_code == 200


def _bad_inputs(files):
    good = files.paths[0].read_bytes()
    return {
        "not an image": (415, [("image", ("notes.txt", b"hello, not an image\n"))], {}),
        "truncated": (415, [("image", ("cut.png", good[: len(good) // 2]))], {}),
        "zero bytes": (400, [("image", ("empty.png", b""))], {}),
        "wrong field": (422, [("file", ("a.png", good))], {}),
        "text value": (422, [("other", ("a.png", good))], {"image": "a string"}),  # multipart, not a file
        "one bad of two": (415, [("image", ("a.png", good)), ("image", ("b.png", b"GIF89a garbage"))], {}),
    }


@pytest.mark.parametrize(
    "case", ["not an image", "truncated", "zero bytes", "wrong field", "text value", "one bad of two"]
)
def test_bad_uploads_are_4xx_with_a_one_line_json_error(server, files, case):
    status, upload, data = _bad_inputs(files)[case]
    res = httpx.post(server.url + "/v1/predict", files=upload, data=data or None, timeout=30)
    assert res.status_code == status, res.text
    assert set(res.json()) == {"error"} and "\n" not in res.json()["error"]
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_bad_requests_are_4xx_with_a_one_line_json_error(server, files):
    one = [("image", ("a.png", files.paths[0].read_bytes()))]
    cases = [
        (415, lambda: httpx.post(server.url + "/v1/predict", json={"image": "x"})),
        (
            400,
            lambda: httpx.post(
                server.url + "/v1/predict",
                content=b"--x\r\nbroken",  # no boundary given
                headers={"content-type": "multipart/form-data"},
            ),
        ),
        (
            422,
            lambda: httpx.post(
                server.url + "/v1/predict",
                content=b"--x\r\nbroken",  # no complete part
                headers={"content-type": "multipart/form-data; boundary=x"},
            ),
        ),
        (422, lambda: httpx.post(server.url + "/v1/predict", files=one, params={"k": 0})),
        (422, lambda: httpx.post(server.url + "/v1/predict", files=one, params={"k": "abc"})),
        (405, lambda: httpx.get(server.url + "/v1/predict")),
        (404, lambda: httpx.get(server.url + "/v2/nothing")),
    ]
    for status, call in cases:
        res = call()
        assert res.status_code == status, res.text
        assert set(res.json()) == {"error"} and "\n" not in res.json()["error"]


@pytest.mark.slow
def test_64_concurrent_clients_get_the_offline_predictions_in_batches(server, files):
    offline = {str(r["image"]): r["top"] for r in predict_images(files.model, files.paths, k=3)}

    def client(i: int):
        path = files.paths[i % len(files.paths)]
        with httpx.Client(timeout=120) as c:
            res = c.post(server.url + "/v1/predict", params={"k": 3}, files=[("image", (path.name, path.read_bytes()))])
        return str(path), res.status_code, res.json()

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(client, range(128)))
    for path, status, body in results:
        assert status == 200, body
        got, want = body["predictions"][0], offline[path]
        assert [g["index"] for g in got] == [w["index"] for w in want]
        np.testing.assert_allclose([g["score"] for g in got], [w["prob"] for w in want], atol=1e-5, rtol=0)
    batches = httpx.get(server.url + "/v1/model").json()["predict_batches"]
    assert batches["max_size"] > 1 and batches["forwards"] < batches["images"]  # shared forward passes


@pytest.fixture(scope="module")
def strict_server(files):
    """A server with small limits: 1 MiB bodies, 1 Mpixel images, 3 files and 1 s per request."""
    args = [str(files.ckpt), "--max-upload-mb", "1", "--max-pixels", "1000000", "--max-files", "3"]
    args += ["--request-timeout", "1"]
    srv = ServerProcess(args, files.root / "strict.log")
    try:
        yield srv.wait_ready()
    finally:
        srv.stop()
    assert "Traceback" not in srv.output(), srv.output()


def test_oversized_uploads_and_decompression_bombs_are_413(strict_server, files):
    big = np.random.default_rng(0).integers(0, 256, size=(700, 700, 3), dtype=np.uint8)  # ~1.5 MB of noise
    res = httpx.post(strict_server.url + "/v1/predict", files=[("image", ("big.png", png(big)))])
    assert res.status_code == 413 and "limit of 1048576 bytes" in res.json()["error"]
    bomb = png(np.zeros((2000, 2000), dtype=np.uint8))  # 4 Mpixel in a few KB
    assert len(bomb) < 100_000
    res = httpx.post(strict_server.url + "/v1/predict", files=[("image", ("bomb.png", bomb))])
    assert res.status_code == 413 and "too large" in res.json()["error"] and "bomb.png" in res.json()["error"]
    body, ctype = multipart("image", [("big.png", b"x" * (3 << 20))])

    def chunks():  # sent chunked, without a Content-Length: counted as it arrives
        yield from (body[i : i + 65536] for i in range(0, len(body), 65536))

    res = httpx.post(strict_server.url + "/v1/predict", content=chunks(), headers={"content-type": ctype})
    assert res.status_code == 413
    four = [("image", (p.name, p.read_bytes())) for p in files.paths[:4]]
    res = httpx.post(strict_server.url + "/v1/predict", files=four)
    assert res.status_code == 413 and "more than 3 files" in res.json()["error"]
    assert httpx.post(strict_server.url + "/v1/predict", files=four[:3]).status_code == 200
    assert (
        httpx.post(
            strict_server.url + "/v1/predict", files=[("image", ("a.png", files.paths[0].read_bytes()))]
        ).status_code
        == 200
    )


def test_a_request_past_the_timeout_is_answered_503_and_the_server_lives_on(strict_server, files):
    body, ctype = multipart("image", [("a.png", files.paths[0].read_bytes())])
    sock = raw_request_start(strict_server.port, "/v1/predict", body, ctype, sent=len(body) // 2)  # stalls
    status, reply = read_response(sock)
    assert status == 503 and "limit of 1 s" in json.loads(reply)["error"]
    assert httpx.get(strict_server.url + "/healthz").status_code == 200


def test_serve_refuses_bad_files_before_listening(files, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["serve", str(bad)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    other = tmp_path / "other.npz"
    np.savez(other, embeddings=np.zeros((3, 7), np.float32), paths=np.array(["a", "b", "c"]))
    assert main(["serve", str(files.ckpt), "--neighbors", str(other)]) == 2
    assert "dimension 7" in capsys.readouterr().err
    assert main(["serve", str(files.ckpt), "--max-batch", "0"]) == 2
    with socket.socket() as taken:  # a port in use: said before the model loads
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", str(files.ckpt), "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen there" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_then_exits(files, tmp_path):
    srv = ServerProcess([str(files.ckpt)], tmp_path / "server.log").wait_ready()
    try:
        body, ctype = multipart("image", [("a.png", files.paths[0].read_bytes())])
        sock = raw_request_start(srv.port, "/v1/predict?k=2", body, ctype, sent=len(body) // 2)
        time.sleep(0.3)  # the request is being read when the signal comes
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):  # no new connections once shutting down
            httpx.get(srv.url + "/healthz", timeout=2)
        sock.sendall(body[len(body) // 2 :])
        status, reply = read_response(sock)
        assert status == 200, reply
        want = predict_images(files.model, files.paths[:1], k=2)[0]["top"]
        assert [p["index"] for p in json.loads(reply)["predictions"][0]] == [w["index"] for w in want]
        assert srv.proc.wait(30) == 0
    finally:
        srv.stop(signal.SIGKILL)
    assert "Traceback" not in srv.output(), srv.output()
