"""The deploying peers and vitkit's OpenVINO rows in vitkit bench (tiny shape): they run, say their precision,
sit out training cases, and a runtime that is missing makes its row say "not installed"; --backends CKPT prints
auto's measurement and remembers it. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import vitkit
from vitkit.bench.cases import make_cases
from vitkit.bench.report import _label, format_table
from vitkit.bench.run import distinct, run_bench
from vitkit.bench.workload import Options, plan
from vitkit.cli.main import main

FAST = dict(warmup=1, min_sample_s=0.01, memory=False, pipeline=False, matmul_n=256)
DEPLOY = ["vitkit", "onnxruntime", "openvino", "vitkit-openvino", "vitkit-int8"]


def test_deploy_rows_are_inference_only_and_planned():
    infer, train = make_cases(["tiny"], [1])
    assert distinct(train, DEPLOY, Options()) == ["vitkit"]
    assert plan("onnxruntime", infer, Options()).builder == "timm"
    assert plan("vitkit-openvino", infer, Options()).backend == "openvino"
    assert plan("vitkit-int8", infer, Options()).backend == "openvino-int8"
    assert plan("vitkit", infer, Options(backend="openvino")).backend == "openvino"


def test_labels_state_each_columns_precision():
    row = {"backend": "torch"}
    assert _label({**row, "library": "onnxruntime"}) == "onnxruntime (timm, fp32)"
    assert _label({**row, "library": "openvino"}) == "openvino (timm, f32)"
    assert _label({**row, "library": "openvino"}, "bf16") == "openvino (timm, bf16)"
    assert _label({"library": "vitkit-int8", "backend": "openvino-int8"}) == "vitkit-int8 (openvino, int8)"
    assert _label({"library": "vitkit", "backend": "openvino"}) == "vitkit (openvino, f32)"


def test_deploy_peers_run_and_a_missing_runtime_says_not_installed(monkeypatch):
    """Run in a process of its own: ``openvino.convert_model`` of timm's torch model in this process leaves state
    behind that made a later test's forked DataLoader workers crash the test process (SIGSEGV)."""
    if os.environ.get("VITKIT_TEST_CHILD") != "1":
        here = f"{__file__}::test_deploy_peers_run_and_a_missing_runtime_says_not_installed"
        env = {**os.environ, "VITKIT_TEST_CHILD": "1"}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", here], env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "1 passed" in proc.stdout, proc.stdout[-2000:]
        return
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    cases = make_cases(["tiny"], [2], train=False)
    opts = Options(backend="torch", compile=False, threads=1)
    result = run_bench(cases, DEPLOY, repeats=1, options=opts, peers_apart=False, **FAST)
    rows = {r["library"]: r for r in result["results"]}
    assert all(rows[lib]["error"] is None and rows[lib]["img_s"]["median"] > 0 for lib in DEPLOY), rows
    table = format_table(result)
    assert "openvino (timm, f32)" in table and "vitkit-int8 / vitkit:" in table
    assert result["machine"]["versions"]["openvino"]

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    result = run_bench(cases, ["vitkit", "openvino"], repeats=1, options=opts, peers_apart=False, **FAST)
    row = next(r for r in result["results"] if r["library"] == "openvino")
    assert row["error"] == "not installed (pip install 'vitkit[openvino]')"
    assert "openvino (timm, f32)               not installed" in format_table(result)


def test_bench_backends_prints_autos_table_and_remembers(tmp_path, monkeypatch, capsys):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16", image_size=16, patch_size=4, hidden_size=32, num_layers=1, num_heads=2, mlp_dim=64, num_classes=3
    )
    with torch.no_grad():
        model.head.weight.normal_()
    ckpt = vitkit.save(model, tmp_path / "m.safetensors")
    assert main(["bench", "--backends", str(ckpt), "--batch", "1,64", "--seconds", "0.3", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("<- auto") == 2 and "64 (timed at 32)" in out
    for backend in ("torch", "onnxruntime", "openvino"):
        assert f"    1  {backend}" in out
    cache = json.loads((tmp_path / "home" / "backends.json").read_text())
    assert sorted(e["batch"] for e in cache.values()) == [1, 32]
