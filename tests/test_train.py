"""Training runs end to end: resumable after a real kill -9, equal to itself across processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vitkit

TINY = [
    "--set",
    "patch_size=4",
    "--set",
    "hidden_size=64",
    "--set",
    "num_layers=2",
    "--set",
    "num_heads=4",
    "--set",
    "mlp_dim=128",
    "--set",
    "hflip=false",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def vitkit_cmd(*args):
    return [sys.executable, "-m", "vitkit", *args]


def losses(run: Path, kind="train"):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["kind"] == kind}


def train_args(out, steps=120):
    return [
        "train",
        "ViT-Ti/16",
        "--data",
        "digits:train",
        "--val",
        "digits:test",
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--batch-size",
        "32",
        "--image-size",
        "16",
        *TINY,
        "--set",
        "checkpoint_every=7",
        "--set",
        "ema_decay=0.99",
        "--set",
        "log_every=1",
        "--set",
        "warmup_steps=10",
    ]


def _past_a_checkpoint(run: Path, steps_after: int) -> bool:
    """Whether ``last.pt`` is written and the run's log shows ``steps_after`` training steps beyond it."""
    if not (run / "last.pt").exists() or not (run / "metrics.jsonl").exists():
        return False
    lines = (run / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines[:-1]]  # the last line may be half-written
    return bool(steps) and max(steps) >= 7 + steps_after  # checkpoint_every=7 in train_args


@pytest.mark.slow
def test_kill_9_then_resume_reaches_the_same_weights(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(vitkit_cmd(*train_args(full)), check=True, env=ENV, capture_output=True)
    proc = subprocess.Popen(
        vitkit_cmd(*train_args(killed)), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # kill once a checkpoint is written and the run has gone past it (mid-step, or mid-write of the next):
    # waits on what the run wrote, not on a fixed time, so a slow or busy machine cannot make it miss
    deadline = time.time() + 300
    while time.time() < deadline and not _past_a_checkpoint(killed, steps_after=3):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "final.safetensors").exists(), "the run finished before the kill: make it longer"
    state = torch.load(killed / "last.pt", weights_only=True)
    assert 0 < state["step"] < 120
    # the weights file written beside the state is whole and loadable at any moment
    vitkit.load(killed)
    subprocess.run(vitkit_cmd(*train_args(killed), "--resume"), check=True, env=ENV, capture_output=True)
    a, b = load_file(full / "final.safetensors"), load_file(killed / "final.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert losses(full) == losses(killed)  # including the steps redone after the kill, once each


def test_resume_without_state_is_a_clear_error(tmp_path, capsys):
    from vitkit.cli.main import main

    (tmp_path / "run").mkdir()
    args = train_args(tmp_path / "run", steps=2)
    assert main(args + ["--resume"]) == 0  # nothing to resume: starts fresh
    (tmp_path / "run" / "last.pt").write_bytes(b"garbage")
    assert main(args + ["--resume"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "Traceback" not in err


def test_a_new_run_into_a_run_folder_is_refused_and_loses_nothing(tmp_path, capsys):
    from vitkit.cli.main import main

    out = tmp_path / "run"
    assert main(train_args(out, steps=2)) == 0
    before = {f: (out / f).read_bytes() for f in ("last.pt", "config.json", "final.safetensors")}
    capsys.readouterr()
    # other settings, no --resume: a later --resume would have continued the old state under them
    assert main(train_args(out, steps=4)) == 2
    err = capsys.readouterr().err.strip()
    assert f"--out {out}: holds a run already (last.pt)" in err and "--resume" in err and "\n" not in err
    assert {f: (out / f).read_bytes() for f in before} == before
    assert main(train_args(out, steps=2) + ["--resume"]) == 0  # the run itself goes on as before


def test_run_folder_is_a_checkpoint(tmp_path):
    from vitkit.cli.main import main

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "ViT-Ti/16",
                "--data",
                "digits:train",
                "--out",
                str(out),
                "--steps",
                "3",
                "--batch-size",
                "16",
                "--image-size",
                "8",
                *TINY,
                "--set",
                "ema_decay=0.9",
            ]
        )
        == 0
    )
    model = vitkit.load(out)
    assert model.classes == [str(i) for i in range(10)]
    assert model.info.transform["image_size"] == [8, 8]
    # EMA on: the folder's weights are the EMA weights, which differ from the raw last step's
    raw = torch.load(out / "last.pt", weights_only=True)["model"]
    assert any(not torch.equal(raw[k], v) for k, v in model.state_dict().items() if k in raw)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["recipe"]["ema_decay"] == 0.9 and cfg["model_overrides"]["hidden_size"] == 64


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_follow_the_single_process_trajectory(tmp_path, mode):
    args = [
        "train",
        "ViT-Ti/16",
        "--data",
        "digits:train",
        "--steps",
        "12",
        "--batch-size",
        "32",
        "--image-size",
        "16",
        *TINY,
        "--set",
        "dropout_rate=0.0",
        "--set",
        "log_every=1",
        "--set",
        "warmup_steps=3",
        "--set",
        "checkpoint_every=5",
    ]
    subprocess.run(vitkit_cmd(*args, "--out", str(tmp_path / "one")), check=True, env=ENV, capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "vitkit"]
    extra = ["--fsdp"] if mode == "fsdp" else []
    res = subprocess.run(
        torchrun + args + ["--out", str(tmp_path / "two"), *extra], env=ENV, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-3000:]
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert one.keys() == two.keys() == set(range(1, 13))
    for step in one:  # same global batch, gradients averaged over ranks: equal up to float summation order
        assert two[step] == pytest.approx(one[step], rel=1e-4, abs=1e-5), step
    a, b = vitkit.load(tmp_path / "one"), vitkit.load(tmp_path / "two")
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(v, w, atol=1e-4, rtol=1e-3, msg=k)


def test_fused_optimizers_update_as_torch_default():
    from vitkit.train.optim import build_optimizer

    torch.manual_seed(0)
    for name in ("adamw", "sgd"):
        a, b = torch.nn.Linear(8, 4), torch.nn.Linear(8, 4)
        b.load_state_dict(a.state_dict())
        fused = build_optimizer(a.parameters(), name, lr=0.1, weight_decay=0.01)
        plain = (
            torch.optim.AdamW(b.parameters(), lr=0.1, weight_decay=0.01)
            if name == "adamw"
            else torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        )
        assert fused.defaults["fused"] is True and not plain.defaults.get("fused")
        x = torch.randn(16, 8)
        for _ in range(3):
            for model, opt in ((a, fused), (b, plain)):
                opt.zero_grad()
                model(x).square().mean().backward()
                opt.step()
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="optimizer"):
        build_optimizer(torch.nn.Linear(2, 2).parameters(), "lamb", lr=0.1)


def test_a_bit_model_trains_with_gradient_checkpointing(tmp_path):
    """``--set grad_checkpointing=true`` reaches every model kind (BiT's units are recomputed, as ViT's blocks):
    the same losses as without it."""
    from vitkit.train import TrainSpec, get_recipe, train

    resnet = {"num_layers": (1, 1), "width_factor": 0.25, "unit": "pre_act", "padding": "fixed", "gn_groups": 8}
    for checkpointing in (False, True):
        recipe = get_recipe(
            "pretrain", steps=2, epochs=None, batch_size=16, warmup_steps=1, grad_checkpointing=checkpointing
        )
        spec = TrainSpec(
            out=str(tmp_path / str(checkpointing)),
            data="digits:train",
            model="BiT-R50x1",
            recipe=recipe,
            model_overrides={"resnet": resnet},
            image_size=16,
        )
        assert train(spec)["steps"] == 2
    assert losses(tmp_path / "True") == pytest.approx(losses(tmp_path / "False"), rel=1e-5)
