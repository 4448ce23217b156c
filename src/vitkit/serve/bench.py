"""``vitkit bench-serve``: the server under 1, 8, 32, 64 concurrent clients against offline inference.

For each model shape (``vitkit.bench.cases``: random weights), a checkpoint is written to a temporary
folder and served by ``python -m vitkit serve`` on a free loopback port; ``loadgen`` clients send the same
PNG (at the model's resolution) to ``/v1/predict`` for a bounded time and count. Then, with the server
stopped, the same model is timed offline in this process: a batched forward pass on preprocessed tensors
(``--max-batch`` images) and one batch-1 forward pass. Targets (issue 12): at 32 clients >= 70% of the
offline batch throughput; p99 latency at 1 client within 2x of one batch-1 forward.
"""

from __future__ import annotations

import dataclasses
import io
import json
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .loadgen import LoadResult, build_request, load_test, multipart_body

THROUGHPUT_TARGET = 0.70  # at 32 clients, of offline batch throughput
LATENCY_TARGET = 2.0  # p99 at 1 client, over one batch-1 forward


def make_checkpoint(shape_name: str, folder: Path) -> Path:
    """A random-weight model of a ``vitkit bench`` shape (random head, so the softmax is not uniform)."""
    import vitkit
    from vitkit.bench.cases import get_shape

    shape = get_shape(shape_name)
    torch.manual_seed(0)
    model = vitkit.create_model("ViT-Ti/16", **shape.vitkit_overrides())
    with torch.no_grad():
        model.head.weight.normal_(0, 0.02)
    path = folder / f"{shape.name.replace('/', '-')}.safetensors"
    vitkit.save(model, path, classes=[f"class {i}" for i in range(shape.num_classes)])
    return path


def test_image(size: int) -> bytes:
    """A PNG of smooth noise at the model's resolution (decoding cost like a real small photo's)."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(max(2, size // 8), max(2, size // 8), 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((size, size), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


def _median_seconds(fn: Callable[[], Any], budget_s: float, min_calls: int = 5) -> float:
    for _ in range(3):  # warm-up
        fn()
    times: list[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < min_calls or time.perf_counter() < end:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.inference_mode()
def offline_figures(checkpoint: Path, batch: int, budget_s: float) -> dict[str, float]:
    """Offline ``predict`` on preprocessed tensors: images/s at ``batch``, and one batch-1 forward in ms."""
    from vitkit.models.transform import transform_for
    from vitkit.use.backend import load_for_inference

    model = load_for_inference(checkpoint)
    size = transform_for(model).image_size
    xb, x1 = torch.randn(batch, 3, *size), torch.randn(1, 3, *size)
    per_batch = _median_seconds(lambda: model(xb).softmax(-1), budget_s)
    per_one = _median_seconds(lambda: model(x1).softmax(-1), budget_s)
    return {"batch": batch, "images_per_s": batch / per_batch, "batch1_ms": per_one * 1000}


def serve_figures(
    checkpoint: Path,
    image: bytes,
    clients: list[int],
    duration_s: float,
    max_requests: int,
    server_args: list[str],
    log: Path,
) -> list[LoadResult]:
    """Start the server, run one load level per entry of ``clients``, stop it."""
    from .server_process import ServerProcess

    with ServerProcess([str(checkpoint), *server_args], log) as server:
        body, ctype = multipart_body("image", [("bench.png", image)])
        request = build_request(server.port, "/v1/predict?k=5", body, ctype)
        load_test(server.port, request, max(clients), min(1.0, duration_s), max_requests)  # warm-up, untimed
        results = []
        for c in clients:
            before = _batches(server.url)
            result = load_test(server.port, request, c, duration_s, max_requests)
            after = _batches(server.url)
            forwards = max(1, after["forwards"] - before["forwards"])
            results.append(dataclasses.replace(result, mean_batch=(after["images"] - before["images"]) / forwards))
        return results


def _batches(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/v1/model", timeout=30) as res:
        return json.load(res)["predict_batches"]


def bench_model(
    shape_name: str,
    clients: list[int],
    duration_s: float,
    max_requests: int,
    max_batch: int,
    server_args: list[str],
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Served and offline figures for one shape, with the two ratios the targets are about."""
    from vitkit.bench.cases import get_shape

    shape = get_shape(shape_name)
    with tempfile.TemporaryDirectory(prefix="vitkit-bench-serve-") as tmp:
        ckpt = make_checkpoint(shape_name, Path(tmp))
        log(f"{shape.name}: serving {ckpt.name} ({shape.image_size} px) ...")
        loads = serve_figures(
            ckpt,
            test_image(shape.image_size),
            clients,
            duration_s,
            max_requests,
            ["--max-batch", str(max_batch), *server_args],
            Path(tmp) / "server.log",
        )
        offline = offline_figures(ckpt, max_batch, budget_s=min(2.0, duration_s))
    at = {r.clients: r for r in loads}
    result: dict[str, Any] = {"model": shape.name, "offline": offline, "serve": [asdict(r) for r in loads]}
    if 32 in at:
        result["throughput_ratio_32"] = at[32].rps / offline["images_per_s"]
    if 1 in at:
        result["p99_ratio_1"] = at[1].p99_ms / offline["batch1_ms"]
    return result


def format_result(r: dict[str, Any]) -> str:
    """The table of one model: each load level, then the offline figures and the ratios against targets."""
    off = r["offline"]
    title = (
        f"{r['model']}: offline batch {off['batch']}: {off['images_per_s']:.1f} img/s; "
        f"batch-1 forward {off['batch1_ms']:.2f} ms"
    )
    lines = [
        title,
        f"  {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'vs offline':>10} {'batch':>6} {'errors':>6}",
    ]
    for s in r["serve"]:
        lines.append(
            f"  {s['clients']:>7} {s['requests']:>8} {s['rps']:>8.1f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
            f"{s['rps'] / off['images_per_s']:>9.0%} {s['mean_batch']:>6.1f} {s['errors']:>6}"
        )
    if "throughput_ratio_32" in r:
        ok = "met" if r["throughput_ratio_32"] >= THROUGHPUT_TARGET else "NOT met"
        lines.append(
            f"  32 clients: {r['throughput_ratio_32']:.0%} of offline batch throughput "
            f"(target >= {THROUGHPUT_TARGET:.0%}: {ok})"
        )
    if "p99_ratio_1" in r:
        ok = "met" if r["p99_ratio_1"] <= LATENCY_TARGET else "NOT met"
        lines.append(
            f"  1 client: p99 {r['p99_ratio_1']:.2f}x one batch-1 forward (target <= {LATENCY_TARGET:g}x: {ok})"
        )
    return "\n".join(lines)
