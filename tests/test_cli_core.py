"""The checkpoint subcommands, run as a user would (the console script's main())."""

import json

import pytest
import torch

import vitkit
from vitkit.cli.main import main


def test_models_lists_every_variant_with_official_macs(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(vitkit.list_models())
    assert rows["ViT-B/16"]["params"] == 86_567_656
    assert rows["ViT-B/16"]["gmacs"] == pytest.approx(17.6, abs=0.05)  # the paper's figure


def test_info_and_convert(tmp_path, capsys, fixtures_dir):
    src = fixtures_dir / "vit_token_rep32_p4_32.params_prelinen.npz"
    assert main(["info", str(src), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "official" and info["config"]["representation_size"] == 32
    dst = tmp_path / "out.safetensors"
    assert main(["convert", str(src), str(dst), "--image-size", "48", "--num-classes", "3"]) == 0
    model = vitkit.load(dst)
    assert model.config.image_size == (48, 48) and model.config.num_classes == 3
    assert model(torch.zeros(1, 3, 48, 48)).shape == (1, 3)


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vitkit info: error:") and "bad.safetensors" in err and "\n" not in err
    assert main(["convert", str(bad), str(tmp_path / "x.safetensors")]) == 2
