"""The openvino backend agrees with eager torch (1e-4 on logits, identical top-1) from a checkpoint and from an
ONNX file; --backend auto measures once per (file, batch, machine), remembers, and falls back to torch with a
note where a model cannot be exported; a missing runtime is a one-line hint naming the extra."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

pytest.importorskip("openvino")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import vitkit  # noqa: E402
from vitkit.errors import ConfigError  # noqa: E402
from vitkit.use.backend import backend_name, load_for_inference  # noqa: E402

CLASSES = [f"c{i}" for i in range(5)]


def small():
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16", image_size=32, patch_size=8, hidden_size=64, num_layers=2, num_heads=2, mlp_dim=128, num_classes=5
    ).eval()
    with torch.no_grad():  # the zero-initialised head would make every logit 0 and any backend "agree"
        model.head.weight.normal_(0, 0.5)
        model.head.bias.normal_(0, 0.5)
    model.info.classes = CLASSES
    return model


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return vitkit.save(small(), tmp_path_factory.mktemp("ov") / "m.safetensors")


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_fp32_backends_agree_with_eager_torch(ckpt, backend):
    model = vitkit.load(ckpt).eval()
    runner = load_for_inference(ckpt, backend=backend)
    assert backend_name(runner) == backend and runner.classes == CLASSES and runner.config == model.config
    gen = torch.Generator().manual_seed(1)
    for shape in [(1, 3, 32, 32), (7, 3, 32, 32), (2, 3, 48, 40)]:  # and another multiple of the patch
        x = torch.randn(*shape, generator=gen)
        with torch.no_grad():
            want = model(x)
        got = runner(x)
        assert (got - want).abs().max() <= 1e-4, shape
        assert torch.equal(got.argmax(1), want.argmax(1))


def test_openvino_compiles_repeated_shapes_alone_and_runs_the_rest_on_one_dynamic_compilation(ckpt):
    from vitkit.onnx import openvino

    model = vitkit.load(ckpt).eval()
    runner = load_for_inference(ckpt, backend="openvino")
    gen = torch.Generator().manual_seed(2)
    calls = [4, 4, 3, 3, 2, 5, 5, 4]
    keys = []
    for b in calls:
        x = torch.randn(b, 3, 32, 32, generator=gen)
        with torch.no_grad():
            assert (runner(x) - model(x)).abs().max() <= 1e-4, b
        keys.append([k[0] if k else None for k in runner.requests])
    assert keys[0] == [4]  # the first shape is compiled for alone
    assert keys[2] == [4, None]  # a shape seen once runs on the dynamic compilation
    assert keys[3] == [4, None, 3]  # seen again: its own
    assert keys[4] == [4, None, 3]  # batch 2 once: dynamic
    assert keys[6] == [None, 3, 5]  # at most STATIC_SHAPES of them: the least recently used (4) went
    assert keys[7] == [None, 5, 4] and openvino.STATIC_SHAPES == 2


def test_a_checkpoint_is_exported_once_for_both_runtimes_and_again_when_it_changes(tmp_path, monkeypatch):
    import os

    from vitkit.onnx import export as export_module
    from vitkit.onnx import export_cache

    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
    ckpt = vitkit.save(small(), tmp_path / "m.safetensors")
    calls = []
    real = export_module.export_onnx
    monkeypatch.setattr(export_module, "export_onnx", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    x = torch.randn(2, 3, 32, 32)
    first = load_for_inference(ckpt, backend="onnxruntime")(x)
    second = load_for_inference(ckpt, backend="openvino")(x)
    assert len(calls) == 1 and (first - second).abs().max() <= 1e-4  # one export served both
    kept = list((tmp_path / "home" / "exports").glob("*.onnx"))
    assert len(kept) == 1 and not list((tmp_path / "home" / "exports").glob(".export-*"))
    load_for_inference(ckpt, backend="openvino", output="embedding")
    assert len(calls) == 2  # another output: another graph
    os.utime(ckpt, ns=(os.stat(ckpt).st_atime_ns, os.stat(ckpt).st_mtime_ns + 10**9))  # the file changed
    load_for_inference(ckpt, backend="onnxruntime")
    assert len(calls) == 3 and len(list((tmp_path / "home" / "exports").glob("*.onnx"))) == 3
    monkeypatch.setenv("VITKIT_EXPORT_CACHE", "0")
    load_for_inference(ckpt, backend="onnxruntime")
    assert len(calls) == 4 and len(list((tmp_path / "home" / "exports").glob("*.onnx"))) == 3  # off: not kept
    monkeypatch.delenv("VITKIT_EXPORT_CACHE")
    monkeypatch.setattr(export_cache, "KEEP", 2)
    os.utime(ckpt, ns=(os.stat(ckpt).st_atime_ns, os.stat(ckpt).st_mtime_ns + 10**9))
    load_for_inference(ckpt, backend="onnxruntime")
    assert len(calls) == 5 and len(list((tmp_path / "home" / "exports").glob("*.onnx"))) == 2  # the 2 newest


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1e999", "nan"])
def test_a_bad_auto_time_budget_is_one_line_naming_the_variable(ckpt, tmp_path, monkeypatch, value):
    monkeypatch.delenv("VITKIT_AUTO_BACKEND", raising=False)
    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VITKIT_AUTO_SECONDS", value)
    with pytest.raises(ConfigError, match=f"VITKIT_AUTO_SECONDS: expected seconds > 0 and <= 3600, got '{value}'"):
        load_for_inference(ckpt, backend="auto")


def test_openvino_runs_an_exported_onnx_file_and_embeddings(ckpt, tmp_path):
    from vitkit.onnx.export import export_onnx

    model = vitkit.load(ckpt).eval()
    x = torch.randn(3, 3, 32, 32)
    onnx = export_onnx(model, tmp_path / "m.onnx")
    runner = load_for_inference(onnx, backend="openvino")
    assert backend_name(runner) == "openvino" and runner.classes == CLASSES
    with torch.no_grad():
        assert (runner(x) - model(x)).abs().max() <= 1e-4
        emb = load_for_inference(ckpt, backend="openvino", output="embedding")
        assert (emb.embed(x) - model.embed(x)).abs().max() <= 1e-4


def test_auto_measures_once_then_remembers(ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("VITKIT_AUTO_BACKEND", "measure")
    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VITKIT_AUTO_SECONDS", "0.3")
    notes: list[str] = []
    first = load_for_inference(ckpt, batch_size=4, say=notes.append)
    assert len(notes) == 1 and notes[0].startswith("auto: images/s at batch 4: torch ")
    assert "onnxruntime" in notes[0] and "openvino" in notes[0] and "remembered in" in notes[0]
    cache = json.loads((tmp_path / "home" / "backends.json").read_text())
    (entry,) = cache.values()
    assert entry["backend"] == backend_name(first) and set(entry["img_s"]) == {"torch", "onnxruntime", "openvino"}
    notes.clear()
    again = load_for_inference(ckpt, batch_size=4, say=notes.append)
    assert notes == [] and backend_name(again) == entry["backend"]  # remembered: nothing measured
    load_for_inference(ckpt, batch_size=1, say=notes.append)  # another batch size: measured
    assert len(notes) == 1 and "batch 1" in notes[0]
    assert load_for_inference(ckpt, backend="torch", batch_size=4).__class__.__name__ == "VisionTransformer"


def test_auto_falls_back_to_torch_when_export_fails(ckpt, tmp_path, monkeypatch):
    import vitkit.onnx.export

    monkeypatch.setenv("VITKIT_AUTO_BACKEND", "measure")
    monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VITKIT_AUTO_SECONDS", "0.2")

    def refuse(*a, **k):
        raise RuntimeError("unsupported op\nsecond line")

    monkeypatch.setattr(vitkit.onnx.export, "export_onnx", refuse)
    notes: list[str] = []
    model = load_for_inference(ckpt, batch_size=2, say=notes.append)
    assert backend_name(model) == "torch"
    skipped = [n for n in notes if "skipped" in n]
    assert len(skipped) == 2 and all("cannot be exported" in n and "running torch" in n for n in skipped)
    with pytest.raises(ConfigError, match=r"^--backend openvino: this model cannot be exported to ONNX"):
        load_for_inference(ckpt, backend="openvino")


def test_a_missing_runtime_is_one_line_naming_the_extra(ckpt, monkeypatch, capsys):
    from vitkit.cli.main import main

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'vitkit\[openvino\]'"):
        load_for_inference(ckpt, backend="openvino")
    assert main(["predict", str(ckpt), "x.png", "--backend", "openvino"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vitkit[openvino]" in err[0]


FREED_OUT_OF_ORDER = """
import gc, signal, subprocess, sys
from vitkit.use.backend import load_for_inference
first = load_for_inference(sys.argv[1], backend="openvino")
second = load_for_inference(sys.argv[1], backend="openvino")
del first; gc.collect()  # freed in the order they were made, not the reverse
del second; gc.collect()
signal.signal(signal.SIGCHLD, lambda *_: None)  # a Python handler: runs on the alternate signal stack
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
child.kill(); child.wait()
print("survived")
"""


def test_runners_freed_in_any_order_leave_signals_deliverable(ckpt):
    # each openvino.Core swapped the thread's alternate signal stack and put back a freed one when freed out of
    # order: the next signal (a DataLoader worker's SIGCHLD, Ctrl-C, SIGTERM) killed the process with SIGSEGV
    proc = subprocess.run(
        [sys.executable, "-c", FREED_OUT_OF_ORDER, str(ckpt)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "survived", (proc.returncode, proc.stderr[-2000:])


@pytest.mark.parametrize(
    "where, cls, graph", [("runner", "OnnxRunner", "ONNX"), ("openvino", "OpenVinoRunner", "OpenVINO")]
)
def test_runners_take_the_model_mode_api_and_refuse_training(where, cls, graph):
    import importlib

    runner = object.__new__(getattr(importlib.import_module(f"vitkit.onnx.{where}"), cls))
    assert runner.training is False and runner.eval() is runner and runner.train(False) is runner
    with pytest.raises(RuntimeError, match=f"^an {graph} graph runs inference only$"):
        runner.train()
