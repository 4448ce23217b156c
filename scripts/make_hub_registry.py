"""Write src/vitkit/hub/registry.json: the published ViT / hybrid / BiT checkpoints vitkit resolves by name.

Sources of truth: the official repository's bucket listing (gs://vit_models/imagenet21k/ and
imagenet21k+imagenet2012/, README of google-research/vision_transformer), the AugReg file names as timm's
pretrained configs record them (timm is installed here; run ``python scripts/make_hub_registry.py``), the BiT
bucket (gs://bit_models/BiT-M-*.npz), the BiT repository (big_transfer: its README's architectures, the
resolution of ``bit_hyperrule.py``) and the paper's Table 2 (/work/shared/PAPER.md).

What each release holds, by its authors' word: the original ImageNet-21k ViT files have their 21,843-way head
zeroed ("we explicitly set the heads to zero for the non-fine-tuned models", vision_transformer issue #10; #32)
and carry the pre-logits layer (the official notebook's fine-tuning log: "Inspect extra keys: pre_logits/kernel,
pre_logits/bias"); timm's ``orig_in21k`` copies have neither, so they are no source of those names. Sizes: the
official notebook's ``gsutil ls -lh`` listing of gs://vit_models/imagenet21k*/ (vit_jax.ipynb) gives each file's
size to 0.01 MiB/GiB; nothing publishes exact byte counts or sha256 for the bucket files, so ``size`` and
``sha256`` stay null and the first download records the sha256.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/vitkit/hub/registry.json"
I21K, I1K = "imagenet21k", "imagenet21k+imagenet2012"
LABELS = {I21K: "imagenet21k", I1K: "imagenet1k", "imagenet2012": "imagenet1k"}
DATA = {I21K: "ImageNet-21k", I1K: "ImageNet-21k, fine-tuned on ImageNet-1k", "imagenet2012": "ImageNet-1k"}
TIMM_ARCH = {
    "ViT-Ti/16": "vit_tiny_patch16",
    "ViT-S/16": "vit_small_patch16",
    "ViT-S/32": "vit_small_patch32",
    "ViT-B/8": "vit_base_patch8",
    "ViT-B/16": "vit_base_patch16",
    "ViT-B/32": "vit_base_patch32",
    "ViT-L/16": "vit_large_patch16",
    "ViT-L/32": "vit_large_patch32",
    "ViT-H/14": "vit_huge_patch14",
    "R50+ViT-B/16": "vit_base_r50_s16",
    "R26+ViT-S/32": "vit_small_r26_s32",
    "R50+ViT-L/32": "vit_large_r50_s32",
}
AUGREG_ARCH = {
    "Ti_16": "ViT-Ti/16",
    "S_16": "ViT-S/16",
    "S_32": "ViT-S/32",
    "B_8": "ViT-B/8",
    "B_16": "ViT-B/16",
    "B_32": "ViT-B/32",
    "L_16": "ViT-L/16",
    "R26_S_32": "R26+ViT-S/32",
    "R50_L_32": "R50+ViT-L/32",
    "R_Ti_16": "R+ViT-Ti/16",
}
# The paper's Table 2 reports ViT-L/16 pre-trained on ImageNet-21k, fine-tuned on ImageNet: 85.30 top-1. Its
# setting is not the released file's: fine-tuned at 512 px with Polyak averaging (PAPER.md), the release at 384.
PAPER = {
    ("ViT-L/16", I1K, 384): {
        "imagenet_top1": 85.30,
        "table": "Table 2, ViT-L/16 (I21k)",
        "resolution": 512,
        "release": False,
        "setting": "fine-tuned at 512 px with Polyak averaging; the released file is the 384 px fine-tuning",
    }
}
# gs://vit_models/imagenet21k*/ as the official notebook lists them (gsutil ls -lh): the size to 0.01 of its unit
LISTED = {
    "imagenet21k+imagenet2012/R50+ViT-B_16.npz": "377.57 MiB",
    "imagenet21k+imagenet2012/ViT-B_16-224.npz": "330.29 MiB",
    "imagenet21k+imagenet2012/ViT-B_16.npz": "331.4 MiB",
    "imagenet21k+imagenet2012/ViT-B_32.npz": "336.89 MiB",
    "imagenet21k+imagenet2012/ViT-B_8.npz": "334.78 MiB",
    "imagenet21k+imagenet2012/ViT-L_16-224.npz": "1.13 GiB",
    "imagenet21k+imagenet2012/ViT-L_16.npz": "1.14 GiB",
    "imagenet21k+imagenet2012/ViT-L_32.npz": "1.14 GiB",
    "imagenet21k/R26+ViT-B_32.npz": "450.23 MiB",
    "imagenet21k/R50+ViT-B_16.npz": "439.85 MiB",
    "imagenet21k/R50+ViT-L_32.npz": "1.31 GiB",
    "imagenet21k/ViT-B_16.npz": "393.69 MiB",
    "imagenet21k/ViT-B_32.npz": "400.01 MiB",
    "imagenet21k/ViT-B_8.npz": "393.72 MiB",
    "imagenet21k/ViT-H_14.npz": "2.46 GiB",
    "imagenet21k/ViT-L_16.npz": "1.22 GiB",
    "imagenet21k/ViT-L_32.npz": "1.23 GiB",
}
# How the authors evaluate: the official ViT input pipeline and BiT's bit_pytorch/train.py both resize the whole
# image to the resolution (no crop, bilinear) and scale pixels to [-1, 1].
AUTHORS_TRANSFORM = {"interpolation": "bilinear", "crop_pct": 1.0, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


def entry(
    arch: str,
    data: str,
    res: int,
    official: str | None,
    timm: str | None,
    hf: str | None,
    family: str = "original",
    default: bool = False,
    head: str = "valid",
    pre_logits: bool = False,
    notes: list[str] | None = None,
) -> dict:
    labels = LABELS[data]
    listed = LISTED.get(official.removeprefix("vit_models/")) if official else None
    return {
        "arch": arch,
        "resolution": res,
        "data": DATA[data],
        "labels": labels,
        "num_classes": 21843 if labels == "imagenet21k" else 1000,
        "family": family,
        "default": default,
        "official": {"path": official, "size": None, "listed_size": listed, "sha256": None} if official else None,
        "timm": timm,
        "hf": hf,
        "paper": PAPER.get((arch, data, res)) if family == "original" else None,  # AugReg is a later release
        "head": head,
        "pre_logits": pre_logits,
        "transform": AUTHORS_TRANSFORM,
        "notes": (notes or []) + timm_notes(timm, res),
    }


def timm_notes(tid: str | None, res: int) -> list[str]:
    """Where timm's recorded evaluation transform for its copy differs from the authors'."""
    if tid is None:
        return []
    from timm.models._registry import _model_pretrained_cfgs as timm_cfgs

    cfg = timm_cfgs[tid]
    size, crop, interp = cfg.input_size[-1], cfg.crop_pct, cfg.interpolation
    mean_std = [round(v, 3) for v in (*cfg.mean, *cfg.std)] != [0.5] * 6
    if (size, crop, interp) == (res, 1.0, "bilinear") and not mean_std:
        return []
    norm = f", mean {list(cfg.mean)} std {list(cfg.std)}" if mean_std else ""
    return [f"timm evaluates its copy at {size} px, crop {crop:g}, {interp}{norm} (the authors: {res} px, no crop)"]


def hf_id(arch: str, res: int, data: str) -> str | None:
    """The google/... copies on the Hugging Face hub of the original (non-AugReg) releases."""
    known = {
        "ViT-B/16": "base-patch16",
        "ViT-B/32": "base-patch32",
        "ViT-L/16": "large-patch16",
        "ViT-L/32": "large-patch32",
        "ViT-H/14": "huge-patch14",
    }
    if arch not in known:
        return None
    if data == I21K:
        return f"google/vit-{known[arch]}-224-in21k"
    if arch == "ViT-H/14":
        return None
    return f"google/vit-{known[arch]}-{res}"


def original() -> dict[str, dict]:
    from timm.models._registry import _model_pretrained_cfgs as timm_cfgs

    out = {}
    for arch in (
        "ViT-B/8",
        "ViT-B/16",
        "ViT-B/32",
        "ViT-L/16",
        "ViT-L/32",
        "ViT-H/14",
        "R50+ViT-B/16",
        "R26+ViT-B/32",
        "R50+ViT-L/32",
    ):
        stem = arch.replace("/", "_")
        tid = f"{TIMM_ARCH.get(arch, '?')}_224.orig_in21k"
        # timm's copy has neither the (zeroed) head nor the pre-logits: not this name's model, a name of its own
        notes = [f"timm's copy `timm:{tid}` has neither head nor pre-logits (its own name)"] if tid in timm_cfgs else []
        out[f"{arch}:{I21K}@224"] = entry(
            arch,
            I21K,
            224,
            f"vit_models/{I21K}/{stem}.npz",
            None,
            hf_id(arch, 224, I21K),
            default=True,
            head="zeroed",
            pre_logits=True,
            notes=notes,
        )
    for arch in ("ViT-B/8", "ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "R50+ViT-B/16"):
        stem = arch.replace("/", "_")
        for res in (224, 384):
            if res == 224 and arch not in ("ViT-B/16", "ViT-L/16"):
                continue
            tid = f"{TIMM_ARCH[arch]}_{res}.orig_in21k_ft_in1k"
            file = f"{stem}-224.npz" if res == 224 else f"{stem}.npz"
            notes = (
                [
                    "no source states this file's resolution; 384 px is what its listed size implies (at 224 it "
                    "would be 330.33 MiB, not 334.78)"
                ]
                if arch == "ViT-B/8"
                else []
            )
            out[f"{arch}:{I1K}@{res}"] = entry(
                arch,
                I1K,
                res,
                f"vit_models/{I1K}/{file}",
                tid if tid in timm_cfgs else None,
                hf_id(arch, res, I1K),
                default=res == 384,
                notes=notes,
            )
    return out


def augreg() -> dict[str, dict]:
    from timm.models._registry import _model_pretrained_cfgs as timm_cfgs

    prefix = "https://storage.googleapis.com/"
    out = {}
    for tid, cfg in sorted(timm_cfgs.items()):
        if ".augreg_" not in tid or not (cfg.url or "").startswith(prefix + "vit_models/augreg/"):
            continue
        short = cfg.url.rsplit("/", 1)[1].split("-", 1)[0]
        if short not in AUGREG_ARCH:
            continue
        data = {"augreg_in21k": I21K, "augreg_in21k_ft_in1k": I1K, "augreg_in1k": "imagenet2012"}[tid.split(".")[1]]
        res = cfg.input_size[-1]
        arch = AUGREG_ARCH[short]
        out[f"{arch}:augreg-{data}@{res}"] = entry(
            arch, data, res, cfg.url[len(prefix) :], tid, None, "augreg", default=res == 224
        )
    return out


def bit() -> dict[str, dict]:
    """BiT-M: the six architectures the BiT README releases (R152x2 added after the paper), each pre-trained on
    ImageNet-21k and fine-tuned on ImageNet-1k (``-ILSVRC2012``), the latter evaluated at 480 px as the BiT
    authors do (``bit_hyperrule.get_resolution``: 512 -> crop 480 in training, ``Resize((480, 480))`` in
    ``bit_pytorch/train.py``'s evaluation)."""
    out = {}
    for depth, width in ((50, 1), (50, 3), (101, 1), (101, 3), (152, 2), (152, 4)):
        arch, stem, tid = f"BiT-R{depth}x{width}", f"BiT-M-R{depth}x{width}", f"resnetv2_{depth}x{width}_bit"
        out[f"{arch}:{I21K}@224"] = entry(
            arch, I21K, 224, f"bit_models/{stem}.npz", f"{tid}.goog_in21k", None, "bit", default=True
        )
        out[f"{arch}:{I1K}@480"] = entry(
            arch,
            I1K,
            480,
            f"bit_models/{stem}-ILSVRC2012.npz",
            f"{tid}.goog_in21k_ft_in1k",
            None,
            "bit",
            default=True,
        )
    return out


def with_params(models: dict[str, dict]) -> dict[str, dict]:
    """Each entry's parameter count, stored so ``vitkit pretrained`` need not build 53 models (10 s) to list them."""
    from vitkit.hub.registry import Entry
    from vitkit.models.flops import count_params

    return {
        name: {**fields, "params": count_params(Entry(name=name, **fields).model_config())}
        for name, fields in models.items()
    }


def main() -> None:
    models = with_params({**original(), **augreg(), **bit()})
    doc = {"base_url": "https://storage.googleapis.com", "hf_timm_org": "timm", "models": models}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{OUT}: {len(models)} checkpoints")


if __name__ == "__main__":
    main()
