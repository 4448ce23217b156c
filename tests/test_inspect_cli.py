"""`vitkit fewshot` and `vitkit inspect` as a user runs them, on tiny checkpoints and the digits data."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from vitkit.cli.main import main
from vitkit.data import open_dataset
from vitkit.models.config import BiTConfig, ResNetConfig
from vitkit.use.embed import embed_dataset
from vitkit.use.fewshot import run_fewshot, shot_indices
from vitkit.use.fewshot_model import pool_features

TINY = dict(image_size=16, patch_size=4, hidden_size=32, num_layers=2, num_heads=2, mlp_dim=64, num_classes=10)
FILES = ["filters.png", "position_similarity.png", "attention_distance.png", "attention_rollout.png", "inspect.json"]


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    vitkit.save(vitkit.create_model("ViT-Ti/16", **TINY), folder / "vit.safetensors")
    bit = vitkit.build_model(BiTConfig(resnet=ResNetConfig((1,), 0.5, unit="pre_act"), num_classes=10, image_size=16))
    vitkit.save(bit, folder / "bit.safetensors")
    return folder


# ------------------------------------------------------------------------------------------- few-shot


def test_fewshot_cli_prints_mean_and_std_per_shot_count(tmp_path, ckpts, capsys):
    out = tmp_path / "fs.json"
    assert (
        main(
            [
                "fewshot",
                str(ckpts / "vit.safetensors"),
                "--train",
                "digits:train",
                "--test",
                "digits:test",
                "--shots",
                "1,5",
                "--seeds",
                "2",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"1", "5"} and all("±" in r for r in rows.values())
    saved = json.loads(out.read_text())
    assert set(saved["shots"]) == {"1", "5"} and len(saved["shots"]["5"]["accs"]) == 2
    assert f"{saved['shots']['5']['mean']:.4f} ± {saved['shots']['5']['std']:.4f}" in rows["5"]


def test_fewshot_embeds_only_the_drawn_images_with_the_same_result(ckpts):
    model = vitkit.load(ckpts / "vit.safetensors")
    train, test = open_dataset("digits:train"), open_dataset("digits:test")
    shots, seeds = [1, 3], 2
    feats, labels = pool_features(model, train, shots, seeds, batch_size=64)
    drawn = shot_indices(labels, shots, seeds, 10)
    assert len(drawn) <= 10 * 4 * seeds and not feats[np.setdiff1d(np.arange(len(train)), drawn)].any()
    full = embed_dataset(model, train)
    np.testing.assert_allclose(feats[drawn], full.embeddings[drawn], rtol=1e-5, atol=1e-6)
    t = embed_dataset(model, test)
    a = run_fewshot(feats, labels, t.embeddings, t.labels, shots, seeds)
    b = run_fewshot(full.embeddings, full.labels, t.embeddings, t.labels, shots, seeds)
    assert {s: r["accs"] for s, r in a.items()} == {s: r["accs"] for s, r in b.items()}


def test_fewshot_with_too_many_shots_is_one_line(ckpts, capsys):
    assert (
        main(
            [
                "fewshot",
                str(ckpts / "vit.safetensors"),
                "--train",
                "digits:test",
                "--test",
                "digits:test",
                "--shots",
                "1000",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("vitkit fewshot: error:") and "fewer than shots=1000" in err and "\n" not in err


# -------------------------------------------------------------------------------------------- inspect


def test_inspect_cli_on_images_notes_the_resize(tmp_path, ckpts, capsys):
    small, native = tmp_path / "small.png", tmp_path / "native.png"
    Image.fromarray((np.random.default_rng(0).random((8, 12, 3)) * 255).astype(np.uint8)).save(small)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(native)
    out = tmp_path / "inspect"
    assert (
        main(["inspect", str(ckpts / "vit.safetensors"), "--images", str(small), str(native), "--out", str(out)]) == 0
    )
    assert all((out / f).is_file() for f in FILES)
    report = json.loads((out / "inspect.json").read_text())
    inputs = report["inputs"]
    assert inputs["num_images"] == 2 and inputs["image_size"] == [16, 16]
    assert inputs["images"][0]["note"] == "resized from 8x12 to 16x16" and "note" not in inputs["images"][1]
    assert inputs["notes"] == ["resized from 8x12 to 16x16 (1 of 2 images)"]
    assert "resized from 8x12 to 16x16" in capsys.readouterr().out
    assert np.array(report["attention_distance"]["per_head"]).shape == (2, 2)


def test_inspect_cli_on_a_data_set(tmp_path, ckpts):
    out = tmp_path / "inspect"
    assert (
        main(
            ["inspect", str(ckpts / "vit.safetensors"), "--data", "digits:test", "--num-images", "6", "--out", str(out)]
        )
        == 0
    )
    report = json.loads((out / "inspect.json").read_text())
    assert report["attention_distance"]["num_images"] == 6
    assert report["inputs"]["notes"] == ["resized from 8x8 to 16x16 (6 of 6 images)"]
    assert report["inputs"]["images"][2]["image"] == "digits:test:2"


def test_inspect_a_bit_checkpoint_is_a_one_line_error(tmp_path, ckpts, capsys):
    assert main(["inspect", str(ckpts / "bit.safetensors"), "--data", "digits:test", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vitkit inspect: error:") and "BiT ResNet" in err and "\n" not in err
    assert not (tmp_path / "x").exists()
