"""The benchmark machinery on the tiny shape: it runs, and its JSON has the documented schema.
No timing is asserted (the numbers are whatever this machine gives)."""

import json

import pytest
import torch

from vitkit.bench.cases import SHAPES, make_cases
from vitkit.bench.memory import measure
from vitkit.bench.peers import build
from vitkit.bench.report import format_table, summary, write_json
from vitkit.bench.run import distinct, run_bench
from vitkit.bench.workload import Options, measured_auto, plan
from vitkit.cli.main import main
from vitkit.use.timing import Contender, alternate

FAST = dict(warmup=1, min_sample_s=0.01, memory=False, pipeline=False, matmul_n=256)
ROW_KEYS = {
    "model",
    "mode",
    "batch",
    "library",
    "gflop_per_image",
    "error",
    "memory",
    "backend",
    "compiled",
    "setup_s",
    "first_step_s",
    "img_s",
    "gflops",
    "peak_fraction",
}


def test_peers_build_the_same_network():
    counts = {
        lib: sum(p.numel() for p in build(lib, SHAPES["tiny"]).parameters())
        for lib in ("vitkit", "timm", "torchvision", "transformers-sdpa", "transformers-eager")
    }
    assert len(set(counts.values())) == 1, counts
    x = torch.randn(2, 3, 16, 16)
    assert build("transformers-eager", SHAPES["tiny"])(x).shape == (2, 10)


def test_alternate_runs_rounds_in_turn():
    order = []
    stats = alternate(
        [Contender("a", lambda: order.append("a"), 4), Contender("b", lambda: order.append("b"), 4)],
        rounds=3,
        warmup=1,
        min_sample_s=0.0,
    )
    assert order[2:] == ["a", "b"] * 3  # after one warm-up step each
    assert set(stats) == {"a", "b"} and len(stats["a"].samples) == 3
    assert stats["a"].min <= stats["a"].median <= stats["a"].max


def test_plan_resolves_vitkit_backend_and_compile():
    infer, train = make_cases(["tiny"], [2])
    assert plan("vitkit", train, Options()).backend == "torch" and not plan("vitkit", train, Options()).compile
    assert plan("vitkit", infer, Options(backend="torch", compile=True)).compile
    assert not plan("vitkit-eager", infer, Options(compile=True)).compile
    assert plan("timm", infer, Options(compile=True)) == plan("timm", infer, Options())
    libs = ["vitkit", "vitkit-eager", "timm"]
    assert distinct(train, libs, Options()) == ["vitkit", "timm"]  # both would train eagerly
    assert distinct(infer, libs, Options(backend="torch", compile=True)) == libs  # compiled vs eager


def test_auto_backend_runs_where_auto_measured_it_fastest(tmp_path, monkeypatch):
    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VITKIT_AUTO_SECONDS", "0.5")
    (one,) = make_cases(["tiny"], [1], train=False)
    told = Options(auto=(("tiny", 1, "openvino"),))
    assert plan("vitkit", one, told).backend == "openvino"  # a measured choice wins over the static rule
    assert distinct(one, ["vitkit", "vitkit-openvino", "vitkit-eager"], told) == ["vitkit", "vitkit-eager"]
    opts, line = measured_auto(one, Options(), str(tmp_path))  # what `--backend auto` measures, on this machine
    (choice,) = opts.auto
    assert choice[:2] == ("tiny", 1) and line.endswith(f"-> {choice[2]}")
    assert plan("vitkit", one, opts).backend == choice[2] and "images/s at batch 1" in line
    (train,) = make_cases(["tiny"], [1], infer=False)
    assert plan("vitkit", train, opts).backend == "torch"  # training runs in torch whatever auto measured


def test_auto_backend_without_a_measurement_is_the_static_rule():
    from vitkit.runtime import mkl_amd

    one, sixteen = make_cases(["tiny"], [1, 16], train=False)
    assert plan("vitkit", one, Options()).backend == "onnxruntime"
    generic_mkl = mkl_amd.mkl_cpu_type() == 0
    p16 = plan("vitkit", sixteen, Options())
    assert (p16.backend, p16.compile) == (("onnxruntime", False) if generic_mkl else ("torch", False))
    assert plan("vitkit", sixteen, Options(backend="torch")).compile == generic_mkl
    assert plan("vitkit", one, Options(precision="bf16")).backend == "torch"


def test_run_bench_schema(tmp_path):
    cases = make_cases(["tiny"], [2], train_batch=3)
    libs = ["vitkit", "timm", "torchvision", "transformers-sdpa", "no-such-library"]
    result = run_bench(cases, libs, repeats=2, options=Options(backend="torch", compile=False, threads=1), **FAST)
    assert result["schema"] == "vitkit.bench/1"
    assert {"machine", "options", "repeats", "matmul", "results", "pipeline", "seconds"} <= set(result)
    assert result["matmul"]["peak_gflops"] >= result["matmul"]["before"]["torch"]["best"] > 0
    rows = result["results"]
    assert [(r["mode"], r["batch"]) for r in rows] == [("infer", 2)] * 5 + [("train", 3)] * 5
    ok = [r for r in rows if r["library"] != "no-such-library"]
    for r in ok:
        assert set(r) == ROW_KEYS and r["error"] is None
        assert len(r["img_s"]["samples"]) == 2 and r["gflops"] > 0 and 0 < r["peak_fraction"]
    assert all(r["error"].startswith("ValueError") for r in rows if r["library"] == "no-such-library")
    table = format_table(result)
    assert "vitkit / fastest peer" in table and "no-such-library" in table
    assert {
        (s["mode"], s["fastest_peer"] in ("timm", "torchvision", "transformers-sdpa")) for s in summary(result)
    } == {("infer", True), ("train", True)}
    saved = json.loads(write_json(result, tmp_path / "bench.json").read_text())
    assert saved["summary"] and saved["results"] == json.loads(json.dumps(rows))


@pytest.mark.slow
def test_memory_is_measured_in_a_fresh_process():
    infer, train = make_cases(["tiny"], [2], train_batch=8)
    for case in (infer, train):
        m = measure("vitkit-eager", case, Options(threads=1), steps=1)
        assert set(m) == {"peak_mib", "step_mib", "method"} and m["peak_mib"] >= m["step_mib"] - 1


def test_onnxruntime_backend_and_cli_quick(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = tmp_path / "quick.json"
    assert (
        main(["bench", "--quick", "--threads", "1", "--libraries", "vitkit,vitkit-eager,timm", "--json", str(path)])
        == 0
    )
    result = json.loads(path.read_text())
    backends = {(r["mode"], r["library"]): r["backend"] for r in result["results"]}
    assert backends[("infer", "vitkit")] == "onnxruntime" and backends[("train", "vitkit")] == "torch"
    assert "vitkit (onnxruntime)" in capsys.readouterr().out


def test_pipeline_on_a_jpeg_folder(tmp_path):
    from vitkit.bench.pipeline import jpeg_folder_rate, write_jpeg_folder

    res = jpeg_folder_rate(write_jpeg_folder(tmp_path, n=6, classes=2), batch_size=2, batches=2)
    assert res["img_s"] > 0 and res["batches"] == 2


def test_worker_answers_each_request_line(tmp_path):
    import io

    from vitkit.bench.worker import serve

    case = make_cases(["tiny"], [2], infer=False)[0]
    requests = [
        {"op": "hello", "threads": 1},
        {"op": "build", "library": "timm", "case": case.to_json(), "options": Options(threads=1).to_dict()},
        {"op": "warm_up", "library": "timm", "warmup": 1, "min_sample_s": 0.0},
        {"op": "timed", "library": "timm", "n": 2},
        {"op": "build", "library": "no-such-library", "case": case.to_json(), "options": Options().to_dict()},
        {"op": "release"},
        {"op": "timed", "library": "timm", "n": 1},
        {"op": "bogus"},
    ]
    out = io.StringIO()
    serve(io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), out)
    hello, built, warm, timed, bad, released, gone, bogus = map(json.loads, out.getvalue().splitlines())
    assert hello["threads"] == 1 and set(hello["blas"]) == {"loaded", "reason", "mkl_cpu_type"}
    assert built["plan"] == {"builder": "timm", "backend": "torch", "compile": False} and built["first_step_s"] > 0
    assert warm["steps"] == 1 and timed["seconds"] > 0 and released == {}
    assert bad["error"].startswith("ValueError") and gone["error"].startswith("KeyError")
    assert bogus["error"] == "ValueError: unknown op 'bogus'"


@pytest.mark.skipif(
    not __import__("vitkit.mkl_amd").mkl_amd.status()["loaded"],
    reason="vitkit's MKL library is not loaded on this machine: peers run in-process anyway",
)
def test_peers_run_apart_from_vitkits_mkl_library_unless_asked():
    cases = make_cases(["tiny"], [2], infer=False)
    libs = ["vitkit", "timm", "no-such-library"]
    apart = run_bench(cases, libs, repeats=1, options=Options(threads=1), **FAST)
    assert apart["machine"]["blas"]["loaded"] and apart["machine"]["blas"]["mkl_cpu_type"] > 0
    assert apart["peers_process"]["blas"] == {**apart["peers_process"]["blas"], "loaded": False, "mkl_cpu_type": 0}
    assert apart["matmul"]["peers_process"]["torch"]["best"] > 0
    rows = {r["library"]: r for r in apart["results"]}
    assert rows["timm"]["error"] is None and rows["timm"]["img_s"]["median"] > 0
    assert rows["no-such-library"]["error"].startswith("ValueError")
    assert "separate process without that library: MKL generic kernels" in format_table(apart)
    together = run_bench(cases, libs[:2], repeats=1, options=Options(threads=1), peers_apart=False, **FAST)
    assert together["peers_process"] is None and "same kernels as vitkit" in format_table(together)
