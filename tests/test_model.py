"""Properties of the model: every position-embedding kind and placement, pooling, sizes, API."""

import pytest
import torch

import vitkit
from vitkit.models.posemb import RelativePositionBias, resize_tokens, sincos_2d

SMALL = dict(image_size=32, patch_size=4, hidden_size=64, num_layers=2, num_heads=4, mlp_dim=128, num_classes=10)
GRID = [
    ("none", "stem"),
    *[
        (kind, at)
        for kind in ("learned_1d", "learned_2d", "sincos_2d")
        for at in ("stem", "every_layer", "every_layer_shared")
    ],
    ("relative", "stem"),
]


def small(**kw):
    torch.manual_seed(0)
    return vitkit.create_model("ViT-Ti/16", **{**SMALL, **kw})


def randomise(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.mark.parametrize("kind, at", GRID)
def test_posemb_trains_one_step(kind, at):
    # with a class token, the last layer's patch-to-patch relative biases cannot reach the logits
    model = small(posemb=kind, posemb_at=at, classifier="gap" if kind == "relative" else "token")
    pos = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith(("pos_embed", "rel_pos"))}
    assert bool(pos) == (kind not in ("none", "sincos_2d"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    model.head.weight.data.normal_(0, 0.1)  # zero head would stop gradients reaching the encoder
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    for n, before in pos.items():
        assert not torch.equal(before, dict(model.named_parameters())[n]), n
    assert torch.isfinite(loss)


def test_posemb_parameter_sets():
    assert small(posemb="learned_1d", posemb_at="every_layer").pos_embed.weight.shape == (2, 65, 64)
    assert small(posemb="learned_1d", posemb_at="every_layer_shared").pos_embed.weight.shape == (1, 65, 64)
    pe2 = small(posemb="learned_2d").pos_embed
    assert pe2.row.shape == (1, 8, 32) and pe2.col.shape == (1, 8, 32) and pe2.cls.shape == (1, 1, 64)


def test_posemb_changes_output_and_placement_matters():
    x = torch.randn(2, 3, 32, 32)
    outs = {}
    for kind, at in GRID:
        model = randomise(small(posemb=kind, posemb_at=at))
        with torch.no_grad():
            outs[(kind, at)] = model.forward_features(x)
    # without position information, permuting patches permutes the patch tokens (no 2D bias at all)
    model = randomise(small(posemb="none"))
    perm = torch.randperm(64)
    patches = x.unfold(2, 4, 4).unfold(3, 4, 4)  # B C 8 8 4 4
    shuffled = (
        patches.reshape(2, 3, 64, 4, 4)[:, :, perm]
        .reshape(2, 3, 8, 8, 4, 4)
        .permute(0, 1, 2, 4, 3, 5)
        .reshape(2, 3, 32, 32)
    )
    with torch.no_grad():
        a, b = model.forward_features(x), model.forward_features(shuffled)
    torch.testing.assert_close(b[:, 1:], a[:, 1:][:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b[:, 0], a[:, 0], atol=1e-5, rtol=1e-5)


def test_every_layer_adds_before_each_block():
    model = randomise(small(posemb="learned_1d", posemb_at="every_layer"))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        out = model.forward_intermediates(x)
        tokens, grid = model._embed(x)
        manual = tokens + model.pos_embed.weight[0:1]
        manual, _ = model.blocks[0](manual)
        manual, _ = model.blocks[1](manual + model.pos_embed.weight[1:2])
    torch.testing.assert_close(out["blocks"][1], manual)


def test_learned_2d_is_row_column_concat():
    pe = small(posemb="learned_2d").pos_embed
    emb = pe.embedding((8, 8))[0, 1:].reshape(8, 8, 64)
    torch.testing.assert_close(emb[3, 5, :32], pe.row[0, 3])
    torch.testing.assert_close(emb[3, 5, 32:], pe.col[0, 5])


def test_sincos_is_fixed_and_distinct():
    emb = sincos_2d((8, 8), 64)
    assert emb.shape == (64, 64)
    assert torch.cdist(emb, emb).add(torch.eye(64) * 10).min() > 0.1
    torch.testing.assert_close(emb[0], torch.cat([torch.zeros(16), torch.ones(16), torch.zeros(16), torch.ones(16)]))


def test_relative_bias_depends_only_on_offset():
    rel = RelativePositionBias((4, 4), prefix=1, num_heads=2)
    bias = rel((4, 4))[0]  # heads, 17, 17
    # patch (0,0)->(1,2) and (2,1)->(3,3) share the offset (-1,-2)
    i = lambda r, c: 1 + r * 4 + c  # noqa: E731
    torch.testing.assert_close(bias[:, i(0, 0), i(1, 2)], bias[:, i(2, 1), i(3, 3)])
    assert not torch.equal(bias[:, i(0, 0), i(1, 2)], bias[:, i(0, 0), i(2, 1)])
    torch.testing.assert_close(bias[:, 0, 1:], rel.prefix_bias[:, 0:1].expand(2, 16))


def test_gap_vs_token():
    tok, gap = randomise(small(classifier="token")), randomise(small(classifier="gap"))
    assert tok.cls_token is not None and gap.cls_token is None
    assert tok.pos_embed.weight.shape[1] == 65 and gap.pos_embed.weight.shape[1] == 64
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            tok.forward_head(tok.forward_features(x), pre_logits=True), tok.forward_features(x)[:, 0]
        )
        torch.testing.assert_close(
            gap.forward_head(gap.forward_features(x), pre_logits=True), gap.forward_features(x).mean(1)
        )


def test_dynamic_image_sizes():
    model = randomise(small())
    for h, w in [(32, 32), (48, 40), (16, 64)]:
        with torch.no_grad():
            out = model.forward_intermediates(torch.randn(1, 3, h, w))
        assert out["logits"].shape == (1, 10) and out["grid"] == (h // 4, w // 4)
    # resizing on the fly equals storing the resized embeddings
    x = torch.randn(1, 3, 48, 40)
    with torch.no_grad():
        a = model(x)
        model.set_image_size((48, 40))
        b = model(x)
    torch.testing.assert_close(a, b)


def test_bad_input_is_a_clear_error():
    model = small()
    with pytest.raises(ValueError, match="not divisible by patch size 4x4"):
        model(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\)"):
        model(torch.randn(1, 1, 32, 32))


def test_attention_weights_match_fused_path():
    model = randomise(small(posemb="relative"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model.forward_intermediates(x, attention=True)
        fast = model(x)
    assert len(out["attention"]) == 2 and out["attention"][0].shape == (2, 4, 65, 65)
    torch.testing.assert_close(out["attention"][0].sum(-1), torch.ones(2, 4, 65))
    torch.testing.assert_close(out["logits"], fast, atol=1e-5, rtol=1e-5)


def test_init_as_official():
    model = small(representation_size=32)
    assert torch.count_nonzero(model.head.weight) == 0 and torch.count_nonzero(model.cls_token) == 0
    assert 0.015 < model.pos_embed.weight.std() < 0.025
    assert model.blocks[0].mlp.fc1.bias.abs().max() < 1e-5 and model.blocks[0].mlp.fc1.bias.abs().max() > 0
    fan_in = 3 * 4 * 4
    assert abs(model.patch_embed.proj.weight.std().item() - fan_in**-0.5) < 0.15 * fan_in**-0.5
    assert isinstance(model.pre_logits[1], torch.nn.Tanh)


def test_reset_classifier_and_no_weight_decay():
    model = randomise(small())
    model.reset_classifier(3)
    assert model.head.weight.shape == (3, 64) and torch.count_nonzero(model.head.weight) == 0
    assert model.config.num_classes == 3
    model.reset_classifier(0)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 64)
    assert {"cls_token", "pos_embed.weight"} <= small().no_weight_decay()


def test_grad_checkpointing_same_gradients():
    torch.manual_seed(0)
    a = randomise(small(dropout_rate=0.0)).train()
    b = randomise(small(dropout_rate=0.0)).train()
    b.load_state_dict(a.state_dict())
    b.set_grad_checkpointing()
    x = torch.randn(2, 3, 32, 32)
    a(x).sum().backward()
    b(x).sum().backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)


def test_resize_tokens_keeps_prefix_and_corners():
    emb = torch.randn(1, 1 + 16, 8)
    out = resize_tokens(emb, (4, 4), (7, 7), prefix=1)
    assert out.shape == (1, 50, 8)
    torch.testing.assert_close(out[:, 0], emb[:, 0])
    torch.testing.assert_close(out[0, 1:].reshape(7, 7, 8)[-1, -1], emb[0, 1:].reshape(4, 4, 8)[-1, -1])


def _full_logits(model, x):
    """Every token through every block, then the head: what the class-token shortcut must equal."""
    return model.forward_head(model.forward_features(x))


@pytest.mark.parametrize("kind, at", [("learned_1d", "stem"), ("learned_2d", "every_layer"), ("relative", "stem")])
def test_class_token_shortcut_same_logits_and_gradients(kind, at):
    model = randomise(small(posemb=kind, posemb_at=at, num_layers=3))
    x = torch.randn(3, 3, 32, 32)
    short_feats = model.forward_features(x, class_token_only=True)
    assert short_feats.shape == (3, 1, 64)
    torch.testing.assert_close(short_feats[:, 0], model.forward_features(x)[:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model(x), _full_logits(model, x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        model.embed(x), model.forward_head(model.forward_features(x), pre_logits=True), rtol=1e-5, atol=1e-5
    )
    grads = []
    for fn in (model, lambda x: _full_logits(model, x)):
        model.zero_grad()
        (fn(x) ** 2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        torch.testing.assert_close(g, grads[1][name], rtol=1e-4, atol=1e-5, msg=name)
    # the shortcut with gradient checkpointing: the same gradients again
    model.set_grad_checkpointing(True)
    model.train()
    model.zero_grad()
    (model(x) ** 2).sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[0][name], rtol=1e-4, atol=1e-5, msg=name)


def test_class_token_shortcut_only_where_pooling_reads_the_class_token():
    from vitkit.models.flops import count_macs

    token, gap = small(num_layers=4), small(num_layers=4, classifier="gap")
    full, executed = count_macs(token.config), count_macs(token.config, executed=True)
    # the last block for 1 of 65 tokens: its k, v projections remain, for every token
    assert executed < full
    d, t, m = 64, 65, 128
    last_block_saved = (t - 1) * (d * d + d * d + 2 * d * m) + 2 * (t - 1) * t * d
    assert full - executed == last_block_saved
    assert count_macs(gap.config, executed=True) == count_macs(gap.config)
    with pytest.raises(ValueError, match="class token"):
        gap.forward_features(torch.randn(1, 3, 32, 32), class_token_only=True)
