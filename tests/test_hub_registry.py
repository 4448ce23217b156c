"""The shipped registry (src/vitkit/hub/registry.json): well-formed, consistent with timm's records, documented."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from vitkit.hub import entries
from vitkit.hub.names import is_name, parse
from vitkit.hub.table import markdown
from vitkit.models.flops import count_params

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
        assert e.num_classes == {"imagenet1k": 1000, "imagenet21k": 21843}[e.labels]  # the released head
        assert cfg.num_classes == (e.num_classes if e.classifies else 0)  # the model's: none unless valid
        assert e.head in ("valid", "zeroed", "absent") and e.transform_config().image_size == (e.resolution,) * 2
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
    paper = shipped["ViT-L/16:imagenet21k+imagenet2012@384"].paper
    assert paper["imagenet_top1"] == 85.30 and paper["resolution"] == 512 and paper["release"] is False  # Table 2
    assert shipped["ViT-B/16:imagenet21k+imagenet2012@384"].official_url() == (
        "https://storage.googleapis.com/vit_models/imagenet21k%2Bimagenet2012/ViT-B_16.npz"
    )


def test_each_release_is_described_as_its_authors_built_it() -> None:
    """The original ImageNet-21k files: head zeroed by the authors, pre-logits kept; timm's copies of them (no head,
    no pre-logits) are not a source; the 17 original files carry their official listing size; BiT-M fine-tuned
    files are evaluated at 480 px, as the BiT authors do; the releases issue 19 found missing are registered."""
    shipped = entries()
    originals = [e for n, e in shipped.items() if e.family == "original" and n.split(":")[1].startswith("imagenet21k@")]
    assert len(originals) == 9
    for e in originals:
        assert e.head == "zeroed" and e.pre_logits and e.timm is None and not e.classifies
    # ViT-B/16 + pre-logits (768x768 + 768) is 86,389,248; with the zeroed 21,843-way head 103,186,515 (timm #644)
    assert shipped["ViT-B/16:imagenet21k@224"].params == 86_389_248 == 103_186_515 - (768 * 21843 + 21843)
    listed = [e for e in shipped.values() if e.official["path"].startswith("vit_models/imagenet21k")]
    assert len(listed) == 17 and all(e.official["listed_size"] for e in listed)
    assert shipped["ViT-B/16:imagenet21k@224"].official["listed_size"] == "393.69 MiB"
    bit_ft = [e for e in shipped.values() if e.family == "bit" and "imagenet2012" in e.name]
    assert len(bit_ft) == 6 and {e.resolution for e in bit_ft} == {480}
    for name in (
        "ViT-B/8:imagenet21k@224",
        "ViT-B/8:imagenet21k+imagenet2012@384",
        "BiT-R50x3:imagenet21k@224",
        "BiT-R101x1:imagenet21k+imagenet2012@480",
        "BiT-R152x2:imagenet21k+imagenet2012@480",
        "R+ViT-Ti/16:augreg-imagenet21k@224",
        "R+ViT-Ti/16:augreg-imagenet21k+imagenet2012@384",
    ):
        assert name in shipped, name


def test_timm_ids_and_augreg_files_match_timms_own_records() -> None:
    """timm records, per pretrained tag, the official file it converted: the registry must agree with it."""
    pytest.importorskip("timm")
    from timm.models._registry import _model_pretrained_cfgs as timm_cfgs

    for name, e in entries().items():
        if e.timm is None:
            continue
        cfg = timm_cfgs[e.timm]  # KeyError: a timm id timm does not know
        assert cfg.hf_hub_id == f"timm/{e.timm}", name
        timms = cfg.input_size[-1]  # timm evaluates BiT-M's fine-tuned files at 448, their authors at 480
        assert timms == e.resolution or any(f"at {timms} px" in note for note in e.notes), name
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
