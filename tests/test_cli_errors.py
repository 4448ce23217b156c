"""Every error a user can cause on the command line is one line on stderr and exit code 2 -- no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import vitkit
from vitkit.cli.main import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny ViT checkpoint, a BiT one and a non-image file."""
    root = tmp_path_factory.mktemp("cli_errors")
    kw = dict(patch_size=4, hidden_size=32, num_layers=1, num_heads=2, mlp_dim=64, image_size=16, num_classes=3)
    vit = vitkit.create_model("ViT-Ti/16", **kw)
    torch.nn.init.normal_(vit.head.weight)  # a classifier: a zero head would be refused before the error under test
    vitkit.save(vit, root / "vit.safetensors")
    bit = vitkit.create_model("BiT-R50x1", num_classes=3, image_size=32)
    vitkit.save(bit, root / "bit.safetensors")
    (root / "not_an_image.png").write_bytes(b"plain text")
    (root / "emb.npz").write_bytes(b"not a zip")
    return root


def bad_invocations(root):
    vit, bit = str(root / "vit.safetensors"), str(root / "bit.safetensors")
    return {
        "missing checkpoint": ["info", str(root / "nope.npz")],
        "convert to a non-safetensors path": ["convert", vit, str(root / "out.pt")],
        "unknown variant": ["train", "ViT-X/16", "--data", "digits:train", "--out", str(root / "r1"), "--steps", "1"],
        "unknown option": ["train", "ViT-Ti/16", "--data", "digits:train", "--out", str(root / "r2"), "--set", "x=1"],
        "unknown data": ["eval", vit, "--data", "no-such-set:test"],
        "not an image": ["predict", vit, str(root / "not_an_image.png")],
        "missing image": ["predict", vit, str(root / "missing.png")],
        "bad shots": ["fewshot", vit, "--train", "digits:train", "--test", "digits:test", "--shots", "0,x"],
        "inspect a BiT": ["inspect", bit, "--images", str(root / "not_an_image.png"), "--out", str(root / "i")],
        "bad embeddings file": ["neighbors", str(root / "emb.npz"), "0"],
        "wrong class count": ["eval", vit, "--data", "digits:test"],
        "CUDA asked for": ["eval", vit, "--data", "digits:test", "--device", "cuda:7"],
        "torch backend on onnx": ["predict", str(root / "x.onnx"), str(root / "a.png"), "--backend", "torch"],
        "run folder under a file": [
            "train",
            "ViT-Ti/16",
            "--data",
            "digits:train",
            "--out",
            str(root / "emb.npz" / "r"),
        ],
        "demo folder under a file": ["demo", "--quick", "--out", str(root / "emb.npz" / "demo")],
        "mask rate too small": [
            *("train", "ViT-Ti/16", "--data", "digits:train", "--out", str(root / "r3"), "--steps", "1"),
            *("--image-size", "16", "--set", "patch_size=4", "--set", "hidden_size=32", "--set", "num_layers=1"),
            *("--set", "num_heads=2", "--set", "mlp_dim=64", "--objective", "mpp", "--set", "mpp_mask_rate=0.01"),
        ],
    }


@pytest.mark.parametrize("case", list(bad_invocations(__import__("pathlib").Path("."))))
def test_bad_invocation_exits_2_with_one_line(case, tiny, capsys):
    if case == "CUDA asked for" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = bad_invocations(tiny)[case]
    assert main(argv) == 2, case
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vitkit {argv[0]}: error: "), err
    assert "Traceback" not in err
    assert "feature extractor" not in err  # the error under test, not the head check that comes first


def test_a_path_the_file_system_refuses_is_named(tiny, capsys):
    out = tiny / "emb.npz" / "demo"  # under a file: not a directory
    assert main(["reproduce", "demo", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"vitkit reproduce: error: {out}: not a directory"


@pytest.mark.slow
def test_the_console_entry_prints_no_traceback(tiny):
    """Through ``python -m vitkit``, as a user runs it: exit status 2 and a single stderr line."""
    res = subprocess.run(
        [sys.executable, "-m", "vitkit", "predict", str(tiny / "vit.safetensors"), str(tiny / "not_an_image.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "not_an_image.png" in res.stderr


def bad_values(root):
    """(argv, what the one line must say): a value of the wrong type or out of range, for each kind of option."""
    vit = str(root / "vit.safetensors")
    train = ["train", "ViT-Ti/16", "--data", "digits:train", "--out", str(root / "rv")]
    return {
        "lr not a number": ([*train, "--set", "lr=abc"], "lr: expected a number, got 'abc'"),
        "warmup not whole": ([*train, "--set", "warmup_steps=abc"], "warmup_steps: expected a whole number"),
        "betas not a pair": ([*train, "--set", "betas=abc"], "betas: expected 2 comma-separated values"),
        "betas out of range": ([*train, "--set", "betas=0.9,1.5"], "betas: expected in [0, 1)"),
        "negative weight decay": ([*train, "--set", "weight_decay=-1"], "weight_decay: expected >= 0, got -1"),
        "bool for a number": ([*train, "--set", "batch_size=true"], "batch_size: expected a whole number"),
        "unknown literal": ([*train, "--set", "schedule=steep"], "schedule: expected one of linear, cosine"),
        "negative steps": ([*train, "--steps", "-5"], "--steps: expected a whole number > 0, got '-5'"),
        "port out of range": (["serve", vit, "--port", "99999"], "--port: expected a TCP port in 0..65535"),
        "zero batch": (["eval", vit, "--data", "digits:test", "--batch-size", "0"], "--batch-size: expected a whole"),
        "negative workers": (["embed", vit, "x", "-o", str(root / "e.npz"), "--workers", "-1"], "--workers: expected"),
    }


@pytest.mark.parametrize("case", list(bad_values(__import__("pathlib").Path("."))))
def test_a_bad_value_is_one_line_naming_the_option_and_what_was_expected(case, tiny, capsys):
    argv, message = bad_values(tiny)[case]
    assert main(argv) == 2, case
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_recipe_values_of_the_right_type_pass():
    from vitkit.train.recipes import get_recipe

    r = get_recipe("pretrain", lr=1, betas=(0.9, 0.95), grad_clip=None, steps=10, epochs=None, schedule="cosine")
    assert (r.lr, r.betas, r.grad_clip, r.steps) == (1, (0.9, 0.95), None, 10)


def _numeric_options() -> list[tuple[str, str, object]]:
    import argparse

    from vitkit.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [
        (command, action.option_strings[-1], action.type)
        for command, parser in sub.choices.items()
        for action in parser._actions
        if action.option_strings and action.type is not None and getattr(action.type, "__name__", "") != "_names"
    ]


NUMERIC_OPTIONS = _numeric_options()


def test_every_numeric_option_declares_its_range():
    from vitkit.cli.types import NUMERIC

    assert len(NUMERIC_OPTIONS) > 50
    unchecked = [f"{c} {o}" for c, o, t in NUMERIC_OPTIONS if t not in NUMERIC]
    assert not unchecked, f"plain int/float options (give them a vitkit.cli.types type): {unchecked}"


@pytest.mark.parametrize(
    ("command", "option", "kind"), NUMERIC_OPTIONS, ids=[f"{c} {o}" for c, o, _ in NUMERIC_OPTIONS]
)
def test_every_numeric_option_refuses_a_bad_value_in_one_line(command, option, kind, capsys):
    from vitkit.cli.types import NUMERIC

    bad = ["abc", "-5", "1e400" if "float" in kind.__name__ or kind.__name__ == "fraction" else str(10**30)]
    if not NUMERIC[kind]:
        bad.append("0")
    for value in bad:
        assert main([command, f"{option}={value}"]) == 2, f"vitkit {command} {option}={value} was accepted"
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and option in err.split("argument ")[1].split(":")[0] and repr(value) in err, err
