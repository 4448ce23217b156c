"""Write src/vitkit/hub/registry.json: the published ViT / hybrid / BiT checkpoints vitkit resolves by name.

Sources of truth: the official repository's bucket listing (gs://vit_models/imagenet21k/ and
imagenet21k+imagenet2012/, README of google-research/vision_transformer), the AugReg file names as timm's
pretrained configs record them (timm is installed here; run ``python scripts/make_hub_registry.py``), the BiT
bucket (gs://bit_models/BiT-M-*.npz) and the paper's Table 2 (/work/shared/PAPER.md). File sizes and sha256
are not published next to the files, so they are null: the first download records the sha256.
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
}
# The paper's Table 2 (ImageNet top-1 after fine-tuning) for the one published model it reports on.
PAPER = {("ViT-L/16", I1K, 384): {"imagenet_top1": 85.30, "table": "Table 2, ViT-L/16 I21k"}}


def entry(
    arch: str,
    data: str,
    res: int,
    official: str | None,
    timm: str | None,
    hf: str | None,
    family: str = "original",
    default: bool = False,
) -> dict:
    labels = LABELS[data]
    return {
        "arch": arch,
        "resolution": res,
        "data": DATA[data],
        "labels": labels,
        "num_classes": 21843 if labels == "imagenet21k" else 1000,
        "family": family,
        "default": default,
        "official": {"path": official, "size": None, "sha256": None} if official else None,
        "timm": timm,
        "hf": hf,
        "paper": PAPER.get((arch, data, res)) if family == "original" else None,  # AugReg is a later release
    }


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
        out[f"{arch}:{I21K}@224"] = entry(
            arch,
            I21K,
            224,
            f"vit_models/{I21K}/{stem}.npz",
            tid if tid in timm_cfgs else None,
            hf_id(arch, 224, I21K),
            default=True,
        )
    for arch in ("ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "R50+ViT-B/16"):
        stem = arch.replace("/", "_")
        for res in (224, 384):
            if res == 224 and arch not in ("ViT-B/16", "ViT-L/16"):
                continue
            tid = f"{TIMM_ARCH[arch]}_{res}.orig_in21k_ft_in1k"
            file = f"{stem}-224.npz" if res == 224 else f"{stem}.npz"
            out[f"{arch}:{I1K}@{res}"] = entry(
                arch,
                I1K,
                res,
                f"vit_models/{I1K}/{file}",
                tid if tid in timm_cfgs else None,
                hf_id(arch, res, I1K),
                default=res == 384,
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
        if short not in AUGREG_ARCH:  # R_Ti_16: a ResNet stem without stages, which vitkit does not build
            continue
        data = {"augreg_in21k": I21K, "augreg_in21k_ft_in1k": I1K, "augreg_in1k": "imagenet2012"}[tid.split(".")[1]]
        res = cfg.input_size[-1]
        arch = AUGREG_ARCH[short]
        out[f"{arch}:augreg-{data}@{res}"] = entry(
            arch, data, res, cfg.url[len(prefix) :], tid, None, "augreg", default=res == 224
        )
    return out


def bit() -> dict[str, dict]:
    out = {}
    for depth, width, ft_res in ((50, 1, 448), (101, 3, 448), (152, 4, 480)):
        arch, stem, tid = f"BiT-R{depth}x{width}", f"BiT-M-R{depth}x{width}", f"resnetv2_{depth}x{width}_bit"
        out[f"{arch}:{I21K}@224"] = entry(
            arch, I21K, 224, f"bit_models/{stem}.npz", f"{tid}.goog_in21k", None, "bit", default=True
        )
        out[f"{arch}:{I1K}@{ft_res}"] = entry(
            arch,
            I1K,
            ft_res,
            f"bit_models/{stem}-ILSVRC2012.npz",
            f"{tid}.goog_in21k_ft_in1k",
            None,
            "bit",
            default=True,
        )
    return out


def with_params(models: dict[str, dict]) -> dict[str, dict]:
    """Each entry's parameter count, stored so ``vitkit pretrained`` need not build 53 models (10 s) to list them."""
    from vitkit.flops import count_params
    from vitkit.hub.registry import Entry

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
