"""Masked patch prediction (§4.6): the corruption's exact proportions, the colour targets, the model hook,
and a pre-training run whose folder fine-tunes like any checkpoint."""

import json
import math

import pytest
import torch

import vitkit
from vitkit.cli.main import main
from vitkit.data import IMAGENET_MEAN, IMAGENET_STD
from vitkit.train.mpp import (
    KEPT,
    MASK,
    RANDOM,
    UNCHANGED,
    MPPModel,
    corrupt,
    masked_patch_prediction,
    mean_colour_targets,
)

TINY_KW = dict(image_size=16, patch_size=4, hidden_size=32, num_layers=2, num_heads=2, mlp_dim=64, num_classes=10)
TINY = [
    "--set",
    "patch_size=4",
    "--set",
    "hidden_size=32",
    "--set",
    "num_layers=2",
    "--set",
    "num_heads=2",
    "--set",
    "mlp_dim=64",
    "--set",
    "hflip=false",
]


def tiny_vit(**kw):
    torch.manual_seed(0)
    return vitkit.create_model("ViT-Ti/16", **{**TINY_KW, **kw})


def within_binomial(count, n, p, sds=5.0):
    return abs(count - n * p) <= sds * math.sqrt(n * p * (1 - p))


# ------------------------------------------------------------------------------------------ corruption


def test_corruption_chooses_exactly_round_rate_n_per_image_and_splits_80_10_10():
    b, n, d = 512, 49, 8
    tokens = torch.randn(b, n, d)
    out, masked, kind = corrupt(tokens, 0.5, torch.zeros(1, 1, d), generator=torch.Generator().manual_seed(0))
    assert out.shape == tokens.shape and masked.shape == kind.shape == (b, n)
    assert (masked.sum(1) == round(0.5 * n)).all()  # 24 of 49 in every image (round half to even)
    assert torch.equal(masked, kind != KEPT)
    chosen = int(masked.sum())
    assert chosen == b * 24
    for code, p in ((MASK, 0.8), (RANDOM, 0.1), (UNCHANGED, 0.1)):
        assert within_binomial(int((kind == code).sum()), chosen, p), code
    _, masked, _ = corrupt(tokens, 0.3, torch.zeros(1, 1, d))
    assert (masked.sum(1) == 15).all()  # round(14.7)


def test_chosen_positions_are_uniform_over_the_grid():
    b, n = 4000, 16
    _, masked, _ = corrupt(torch.randn(b, n, 4), 0.5, torch.zeros(1, 1, 4), generator=torch.Generator().manual_seed(1))
    per_position = masked.sum(0)
    assert all(within_binomial(int(c), b, 0.5) for c in per_position)


def test_replacements_mask_random_other_patch_and_unchanged():
    b, n, d = 64, 25, 16
    tokens = torch.randn(b, n, d)
    mask_token = torch.randn(1, 1, d)
    out, _, kind = corrupt(tokens, 0.5, mask_token, generator=torch.Generator().manual_seed(2))
    keep = (kind == KEPT) | (kind == UNCHANGED)
    assert torch.equal(out[keep], tokens[keep])
    assert torch.equal(out[kind == MASK], mask_token.view(1, d).expand(int((kind == MASK).sum()), d))
    rand = kind == RANDOM
    assert rand.any()
    replaced, own = out[rand], torch.nonzero(rand.view(-1)).view(-1)
    same = (replaced.unsqueeze(1) == tokens.reshape(1, b * n, d)).all(-1)  # (R, B*N)
    assert torch.all(same.sum(1) == 1)  # a real patch embedding of the batch, bit for bit
    best = same.int().argmax(1)
    assert torch.all(best != own)  # ... from another position
    assert not torch.any((replaced == tokens[rand]).all(1))
    sources = torch.stack([best // n, best % n], 1)
    assert len({tuple(s) for s in sources.tolist()}) > 0.9 * len(sources)  # drawn widely, not one patch


def test_corruption_is_reproducible_with_a_generator_and_differentiable():
    tokens = torch.randn(3, 9, 4, requires_grad=True)
    mask_token = torch.zeros(1, 1, 4, requires_grad=True)
    a = corrupt(tokens, 0.5, mask_token, generator=torch.Generator().manual_seed(5))
    b = corrupt(tokens, 0.5, mask_token, generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    a[0].sum().backward()
    assert mask_token.grad is not None and float(mask_token.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="mask_rate"):
        corrupt(tokens, 0.01, mask_token)


# -------------------------------------------------------------------------------------- colour targets


def test_mean_colour_targets_on_constructed_images():
    img = torch.zeros(1, 3, 8, 8)
    img[0, :, :4, :4] = torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)
    img[0, :, :4, 4:] = 1.0
    img[0, :, 4:, :4] = 0.0
    img[0, :, 4:, 4:6] = 0.2  # half 0.2, half 0.4: mean 0.3 -> bin floor(2.4) = 2
    img[0, :, 4:, 6:] = 0.4
    targets = mean_colour_targets(img, 4)
    assert targets.tolist() == [[7 * 64 + 4 * 8 + 0, 511, 0, 2 * 64 + 2 * 8 + 2]]
    grey = torch.full((2, 1, 4, 4), 0.75)  # bin 6 in every channel
    assert mean_colour_targets(grey, 2).tolist() == [[6 * 73] * 4] * 2
    assert mean_colour_targets(torch.rand(2, 3, 12, 8), (4, 2)).shape == (2, 12)


def test_targets_from_normalised_inputs_equal_those_of_the_pixels():
    vit = tiny_vit()
    img = torch.zeros(1, 3, 16, 16)
    img[0, :, :4, :4] = torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)
    img[0, :, 4:8, :] = 0.5  # bin edges, after undoing ImageNet normalisation
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    _, targets, _ = MPPModel(vit, IMAGENET_MEAN, IMAGENET_STD)((img - mean) / std)
    assert torch.equal(targets, mean_colour_targets(img, 4))
    assert targets[0, 0] == 480 and (targets[0, 4:8] == 4 * 73).all()


# ------------------------------------------------------------------------------------------ model hook


def test_patch_hook_sees_patch_tokens_and_identity_hook_changes_nothing():
    vit = tiny_vit().eval()
    x = torch.randn(2, 3, 16, 16)
    seen = []

    def hook(t):
        seen.append(t)
        return t

    plain = vit.forward_features(x)
    assert torch.equal(vit.forward_features(x, patch_hook=hook), plain)
    expected = vit.patch_embed(x).flatten(2).transpose(1, 2)
    assert seen[0].shape == (2, 16, 32) and torch.equal(seen[0], expected)  # before class token and posemb
    assert torch.equal(vit(x), vit.forward_head(plain))
    assert not torch.allclose(vit.forward_features(x, patch_hook=lambda t: t * 0), plain)


def test_mpp_model_parameters_and_objective():
    vit = tiny_vit()
    model = MPPModel(vit, (0.5,) * 3, (0.5,) * 3)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"mask_token", "head.weight", "head.bias", "vit.cls_token"} <= names
    assert not any(n.startswith(("vit.head", "vit.pre_logits")) for n in names)  # unused by MPP: frozen
    assert {"mask_token", "vit.cls_token"} <= model.no_weight_decay()
    assert set(MPPModel.vit_state(model.state_dict())) == set(vit.state_dict())
    loss, stats = masked_patch_prediction(0.5)(model, torch.randn(4, 3, 16, 16), torch.zeros(4, dtype=torch.long))
    assert loss.item() == pytest.approx(math.log(512), rel=1e-5)  # zero-initialised head: uniform
    assert 0.0 <= stats["mpp_top1"] <= 1.0
    loss.backward()
    assert model.mask_token.grad is not None and model.vit.patch_embed.proj.weight.grad is not None


# ------------------------------------------------------------------------------------------ training


def mpp_args(out, steps=10):
    return [
        "train",
        "ViT-Ti/16",
        "--data",
        "digits:train",
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--batch-size",
        "16",
        "--image-size",
        "16",
        "--objective",
        "mpp",
        *TINY,
        "--set",
        "log_every=1",
        "--set",
        "warmup_steps=2",
        "--set",
        "checkpoint_every=3",
    ]


def test_mpp_run_then_finetune_its_folder(tmp_path, capsys):
    run, ft = tmp_path / "mpp", tmp_path / "ft"
    assert main(mpp_args(run)) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert len(train_rows) == 10 and all("mpp_top1" in r for r in train_rows)
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]
    state = torch.load(run / "last.pt", weights_only=True)
    assert {"mask_token", "head.weight", "vit.cls_token"} <= set(state["model"])
    vit = vitkit.load(run)  # the weights files hold the bare ViT
    assert set(vit.state_dict()) == set(tiny_vit().state_dict())
    assert torch.equal(vit.cls_token, state["model"]["vit.cls_token"])
    assert (
        main(
            [
                "finetune",
                str(run),
                "--data",
                "digits:train",
                "--test",
                "digits:test",
                "--out",
                str(ft),
                "--steps",
                "3",
                "--batch-size",
                "16",
                "--image-size",
                "16",
                "--set",
                "hflip=false",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 3 and 0.0 <= summary["test_top1"] <= 1.0


def test_mpp_run_resumes_exactly(tmp_path, monkeypatch):
    from vitkit.cli.main import build_parser
    from vitkit.cli.train import build_spec
    from vitkit.train import Trainer

    def spec(out):
        return build_spec(build_parser().parse_args(mpp_args(out, steps=6)), model="ViT-Ti/16", init=None)

    Trainer(spec(tmp_path / "full")).run()

    class Stop(Exception):
        pass

    original = Trainer._save

    def save_then_stop(self, model, optimizer, ema, step, best):
        original(self, model, optimizer, ema, step, best)
        if step == 3:
            raise Stop

    monkeypatch.setattr(Trainer, "_save", save_then_stop)
    with pytest.raises(Stop):
        Trainer(spec(tmp_path / "cut")).run()
    monkeypatch.setattr(Trainer, "_save", original)
    Trainer(spec(tmp_path / "cut"), resume=True).run()
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
