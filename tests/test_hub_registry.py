"""The shipped registry (src/vitkit/hub/registry.json): well-formed, consistent with timm's records, documented."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from vitkit.flops import count_params
from vitkit.hub import entries
from vitkit.hub.names import is_name, parse
from vitkit.hub.table import markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checkpoints.md"


@pytest.fixture(autouse=True)
def shipped_only(monkeypatch) -> None:
    monkeypatch.delenv("VITKIT_REGISTRY", raising=False)


def test_every_entry_is_well_formed() -> None:
    shipped = entries()
    assert len(shipped) >= 50
    for name, e in shipped.items():
        arch, rest = name.split(":")
        assert arch == e.arch and rest.endswith(f"@{e.resolution}")
        cfg = e.model_config()  # the architecture decodes
        assert e.params == count_params(cfg)  # the stored count `vitkit pretrained` lists is the model's
        assert cfg.num_classes == {"imagenet1k": 1000, "imagenet21k": 21843}[e.labels]
        assert re.fullmatch(
            r"(vit_models/(imagenet21k|imagenet21k\+imagenet2012|augreg)|bit_models)/[^/]+\.npz", e.official["path"]
        )
        assert e.official["sha256"] is None or re.fullmatch(r"[0-9a-f]{64}", e.official["sha256"])
        assert e.official["size"] is None or e.official["size"] > 0
    defaults = Counter(n.split("@")[0] for n, e in shipped.items() if e.default)
    assert max(defaults.values()) == 1  # ARCH:DATA without @RES means one entry


def test_the_paper_families_are_all_there() -> None:
    shipped = entries()
    for arch in ("ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "ViT-H/14", "R50+ViT-B/16"):
        assert f"{arch}:imagenet21k@224" in shipped
    for name in (
        "ViT-B/16:imagenet21k+imagenet2012@384",
        "ViT-B/16:imagenet21k+imagenet2012@224",
        "ViT-L/16:imagenet21k+imagenet2012@384",
        "R50+ViT-B/16:imagenet21k+imagenet2012@384",
        "ViT-S/16:augreg-imagenet21k@224",
        "BiT-R50x1:imagenet21k@224",
        "BiT-R101x3:imagenet21k@224",
        "BiT-R152x4:imagenet21k+imagenet2012@480",
    ):
        assert name in shipped
    assert shipped["ViT-L/16:imagenet21k+imagenet2012@384"].paper["imagenet_top1"] == 85.30  # Table 2
    assert shipped["ViT-B/16:imagenet21k+imagenet2012@384"].official_url() == (
        "https://storage.googleapis.com/vit_models/imagenet21k%2Bimagenet2012/ViT-B_16.npz"
    )


def test_timm_ids_and_augreg_files_match_timms_own_records() -> None:
    """timm records, per pretrained tag, the official file it converted: the registry must agree with it."""
    pytest.importorskip("timm")
    from timm.models._registry import _model_pretrained_cfgs as timm_cfgs

    for name, e in entries().items():
        if e.timm is None:
            continue
        cfg = timm_cfgs[e.timm]  # KeyError: a timm id timm does not know
        assert cfg.hf_hub_id == f"timm/{e.timm}", name
        assert cfg.input_size[-1] == e.resolution, name
        if e.family == "augreg":
            assert cfg.url == e.official_url(), name
            assert cfg.num_classes == e.num_classes, name


def test_names_and_paths() -> None:
    assert is_name("ViT-B/16:imagenet21k") and is_name("hf:google/vit-base-patch16-224")
    assert is_name("timm:vit_small_patch16_224.augreg_in21k")
    assert not is_name("runs/ft") and not is_name("./a:b.npz") and not is_name(__file__)
    assert parse("ViT-B/16:imagenet21k+imagenet2012").entry.name == "ViT-B/16:imagenet21k+imagenet2012@384"
    assert parse("hf:google/vit-base-patch16-224").kind == "hf"
    assert parse("timm:vit_small_patch16_224.augreg_in21k").id == "vit_small_patch16_224.augreg_in21k"


def test_docs_table_is_the_generated_one() -> None:
    """docs/checkpoints.md holds `vitkit pretrained --markdown` verbatim (regenerate it when the registry changes)."""
    assert markdown() in DOCS.read_text()
