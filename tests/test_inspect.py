"""The paper's §7 inspection quantities against brute-force or analytic answers, and the report's files."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from vitkit.inspect import (
    attention_distance_for,
    attention_rollout,
    attention_statistics,
    embedding_filters,
    inspect_model,
    mean_attention_distance,
    mean_attention_entropy,
    pixels_per_token,
    position_similarity,
    rollout_maps,
    rollout_matrix,
    similarity_by_relation,
)
from vitkit.models.config import BiTConfig, ResNetConfig

SMALL = dict(image_size=32, patch_size=4, hidden_size=64, num_layers=2, num_heads=4, mlp_dim=128, num_classes=10)


def small(**kw):
    torch.manual_seed(0)
    return vitkit.create_model("ViT-Ti/16", **{**SMALL, **kw})


def small_bit():
    return vitkit.build_model(BiTConfig(resnet=ResNetConfig((1,), 0.5, unit="pre_act"), num_classes=0))


# ------------------------------------------------------------------------------ attention distance


def test_uniform_attention_gives_the_grids_mean_pairwise_distance():
    gh, gw, px, prefix = 4, 4, 8, 1
    t = prefix + gh * gw
    att = torch.full((2, 3, t, t), 1.0 / t)  # uniform over every token, class token included
    expected = 0.0
    for q in range(gh * gw):  # brute force: every (query, key) pair of patch centres
        for k in range(gh * gw):
            expected += math.hypot((q // gw - k // gw) * px, (q % gw - k % gw) * px)
    expected /= (gh * gw) ** 2
    dist = mean_attention_distance([att, att], (gh, gw), px, prefix)
    assert dist.shape == (2, 3)
    np.testing.assert_allclose(dist, expected, rtol=1e-12)


def test_one_hot_attention_at_a_fixed_offset_gives_that_offset():
    gh, gw, py, px, prefix = 4, 5, 6, 8, 1
    n, t = gh * gw, prefix + gh * gw
    att = torch.zeros(1, 2, t, t)
    att[:, :, 0, 0] = 1.0  # the class token's own row is ignored
    for q in range(n):
        r, c = divmod(q, gw)
        target = c + 2 if c + 2 < gw else c - 2  # two patches right, or two left at the right edge
        att[0, 0, prefix + q, prefix + r * gw + target] = 0.5
        att[0, 0, prefix + q, 0] = 0.5  # half on the class token: renormalisation must discard it
        att[0, 1, prefix + q, prefix + ((r + 1) % gh) * gw + c] = 1.0  # head 1: one row down (wraps to -3 rows)
    dist = mean_attention_distance([att], (gh, gw), (py, px), prefix)
    expected_head1 = ((gh - 1) * py + (gh - 1) * py) / gh  # (gh-1) rows step 1 down, one wraps gh-1 up
    np.testing.assert_allclose(dist, [[2 * px, expected_head1]], rtol=1e-12)


def test_attention_entropy_is_one_for_even_attention_and_zero_for_one_patch():
    gh, gw, prefix = 3, 4, 1
    n, t = gh * gw, prefix + gh * gw
    even = torch.full((2, 2, t, t), 1.0 / t)
    one = torch.zeros(1, 2, t, t)
    one[..., 0] = 0.5  # half on the class token: dropped and renormalised away
    one[..., prefix + 5] = 0.5
    two = torch.zeros(1, 1, t, t)
    two[..., prefix + 1], two[..., prefix + 7] = 0.25, 0.75
    expected_two = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(n)
    np.testing.assert_allclose(mean_attention_entropy([even, one], prefix), [[1, 1], [0, 0]], atol=1e-12)
    np.testing.assert_allclose(mean_attention_entropy([two], prefix), [[expected_two]], rtol=1e-12)


def test_attention_statistics_of_a_model_carry_the_uniform_reference():
    vit, images = small(patch_size=8).eval(), torch.randn(3, 3, 32, 32)
    stats = attention_statistics(vit, images, batch_size=2)
    assert stats["distance"].shape == stats["entropy"].shape == (2, 4)
    assert ((stats["entropy"] > 0) & (stats["entropy"] <= 1 + 1e-9)).all()
    np.testing.assert_allclose(stats["distance"], attention_distance_for(vit, images, batch_size=3), rtol=1e-6)
    even = torch.full((1, 1, 17, 17), 1.0 / 17)  # a 4x4 grid of 8 px patches and one class token
    assert stats["uniform_distance"] == pytest.approx(mean_attention_distance([even], (4, 4), 8, 1)[0, 0], rel=1e-12)


def test_attention_distance_for_a_model_uses_patch_and_stem_pixels():
    vit = small()
    assert pixels_per_token(vit) == (4, 4)
    hybrid = small(patch_size=1, resnet=ResNetConfig((), 0.5))
    assert pixels_per_token(hybrid) == (4, 4)  # a 4x reduction stem with 1x1 patches
    dist = attention_distance_for(vit, torch.randn(5, 3, 32, 32), batch_size=2)
    assert dist.shape == (2, 4)
    max_dist = math.hypot(7 * 4, 7 * 4)
    assert np.all(dist > 0) and np.all(dist < max_dist)


# ------------------------------------------------------------------------------------------ rollout


def test_rollout_of_identity_attention_is_the_identity():
    att = torch.eye(5).expand(2, 3, 5, 5)
    np.testing.assert_allclose(rollout_matrix([att, att, att]), np.broadcast_to(np.eye(5), (2, 5, 5)), atol=1e-15)
    np.testing.assert_allclose(attention_rollout([att], num_prefix=1), 0.0)


def test_rollout_matches_a_hand_computation_over_two_layers():
    rng = np.random.default_rng(0)
    b, h, t = 2, 3, 5
    layers = [rng.dirichlet(np.ones(t), size=(b, h, t)) for _ in range(2)]
    expected = np.zeros((b, t, t))
    for i in range(b):
        mats = []
        for w in layers:
            a = sum(w[i, j] for j in range(h)) / h + np.eye(t)
            mats.append(a / a.sum(axis=1, keepdims=True))
        expected[i] = mats[1] @ mats[0]  # A_2 @ A_1: the later layer on the left
    np.testing.assert_allclose(rollout_matrix(layers), expected, rtol=1e-12)
    np.testing.assert_allclose(attention_rollout(layers, num_prefix=1), expected[:, 0, 1:], rtol=1e-12)
    np.testing.assert_allclose(attention_rollout(layers, num_prefix=0), expected.mean(axis=1), rtol=1e-12)


def test_rollout_maps_are_image_sized_and_normalised():
    maps = rollout_maps(small(), torch.randn(3, 3, 32, 32), batch_size=2)
    assert maps.shape == (3, 32, 32)
    np.testing.assert_allclose(maps.min(axis=(1, 2)), 0.0)
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0)


# ------------------------------------------------------------------------------------------ filters


def test_filter_pca_recovers_known_components_in_variance_order():
    model = small()
    d, shape = 64, (3, 4, 4)
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(48, 3)))[0].T  # 3 orthonormal filters of length C*P*P
    coeffs = rng.normal(size=(d, 3))
    coeffs = np.linalg.qr(coeffs - coeffs.mean(axis=0))[0] * [30.0, 20.0, 10.0]  # centred, orthogonal, known scale
    weights = coeffs[:, [1, 2, 0]] @ basis[[1, 2, 0]] + 0.5 + 1e-4 * rng.normal(size=(d, 48))  # shuffled, offset
    with torch.no_grad():
        model.patch_embed.proj.weight.copy_(torch.from_numpy(weights.reshape(d, *shape)))
    comps, ratio = embedding_filters(model, k=5)
    assert comps.shape == (5, *shape) and ratio.shape == (5,)
    flat = comps.reshape(5, -1)
    np.testing.assert_allclose(np.abs(np.sum(flat[:3] * basis, axis=1)), 1.0, atol=1e-5)  # same up to sign
    np.testing.assert_allclose(ratio[:3], np.array([900, 400, 100]) / 1400, atol=1e-5)
    assert ratio[3] < 1e-8


# ------------------------------------------------------------------------------ position similarity


@pytest.mark.parametrize("posemb", ["learned_1d", "learned_2d", "sincos_2d"])
def test_position_similarity_is_a_symmetric_cosine_with_unit_diagonal(posemb):
    sim = position_similarity(small(posemb=posemb))
    flat = sim.reshape(64, 64)
    assert sim.shape == (8, 8, 8, 8)
    np.testing.assert_allclose(np.diag(flat), 1.0, atol=1e-12)
    np.testing.assert_allclose(flat, flat.T, atol=1e-12)
    assert np.all(np.abs(flat) <= 1 + 1e-12)


def test_sincos_neighbours_are_more_similar_than_far_positions():
    sim = position_similarity(small(posemb="sincos_2d"))
    for r in range(8):
        for c in range(8):
            near = [
                sim[r, c, r2, c2]
                for r2, c2 in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                if 0 <= r2 < 8 and 0 <= c2 < 8
            ]
            far = [sim[r, c, r2, c2] for r2 in range(8) for c2 in range(8) if abs(r2 - r) + abs(c2 - c) >= 5]
            assert min(near) > max(far)


def test_similarity_by_relation_averages_the_right_pairs():
    gh, gw = 3, 4
    sim = np.zeros((gh, gw, gh, gw))
    neighbours, mirror, far = [], [], []
    for r1, c1, r2, c2 in np.ndindex(sim.shape):
        if (r1, c1) == (r2, c2):
            sim[r1, c1, r2, c2] = 1.0
            continue
        value = r1 * 1000 + c1 * 100 + r2 * 10 + c2  # every pair its own value: the means say which were taken
        sim[r1, c1, r2, c2] = value
        if abs(r1 - r2) + abs(c1 - c2) == 1:
            neighbours.append(value)
        if r1 == r2 and c2 == gw - 1 - c1:
            mirror.append(value)
        if math.hypot(r1 - r2, c1 - c2) >= 2:
            far.append(value)
    got = similarity_by_relation(sim)
    assert len(neighbours) == 2 * (gh * (gw - 1) + gw * (gh - 1)) and len(mirror) == gh * gw
    assert got == pytest.approx({"neighbours": np.mean(neighbours), "mirror": np.mean(mirror), "far": np.mean(far)})


@pytest.mark.parametrize("posemb", ["none", "relative"])
def test_position_similarity_needs_additive_embeddings(posemb):
    with pytest.raises(ValueError, match=f"posemb='{posemb}'"):
        position_similarity(small(posemb=posemb))


# ---------------------------------------------------------------------------------------- the report


def _check_pngs(out, names):
    for name in names:
        with Image.open(out / name) as img:
            img.verify()
            assert img.format == "PNG"


def test_inspect_model_writes_every_figure_and_the_numbers(tmp_path):
    report = inspect_model(small(), torch.randn(4, 3, 32, 32), tmp_path, original_images=torch.rand(4, 3, 48, 48))
    files = ["filters.png", "position_similarity.png", "attention_distance.png", "attention_rollout.png"]
    _check_pngs(tmp_path, files)
    data = json.loads((tmp_path / "inspect.json").read_text())
    assert data == json.loads(json.dumps(report))
    assert len(data["filters"]["explained_variance_ratio"]) == 28
    assert np.array(data["position_similarity"]["similarity"]).shape == (8, 8, 8, 8)
    assert np.array(data["attention_distance"]["per_head"]).shape == (2, 4)
    assert len(data["attention_distance"]["per_layer_mean"]) == 2
    assert np.array(data["attention_distance"]["entropy_per_head"]).shape == (2, 4)
    assert data["attention_distance"]["uniform"] > 0
    assert np.array(data["attention_rollout"]["maps"]).shape == (4, 8, 8)


def test_inspect_model_skips_what_the_model_lacks(tmp_path):
    hybrid = small(patch_size=1, resnet=ResNetConfig((), 0.5), posemb="relative", classifier="gap")
    data = inspect_model(hybrid, torch.randn(2, 3, 32, 32), tmp_path)
    assert "skipped" in data["filters"] and "skipped" in data["position_similarity"]
    assert not (tmp_path / "filters.png").exists()
    _check_pngs(tmp_path, ["attention_distance.png", "attention_rollout.png"])
    assert json.loads((tmp_path / "inspect.json").read_text())["filters"]["skipped"].startswith("hybrid")


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, out: inspect_model(m, torch.randn(1, 3, 32, 32), out),
        lambda m, out: embedding_filters(m),
        lambda m, out: position_similarity(m),
        lambda m, out: rollout_maps(m, torch.randn(1, 3, 32, 32)),
        lambda m, out: attention_distance_for(m, torch.randn(1, 3, 32, 32)),
    ],
)
def test_a_bit_resnet_is_a_clear_error(fn, tmp_path):
    with pytest.raises(ValueError, match="BiTResNet .*a BiT ResNet has no") as info:
        fn(small_bit(), tmp_path)
    assert "\n" not in str(info.value)
