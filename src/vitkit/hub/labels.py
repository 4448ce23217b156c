"""Class names for by-name checkpoints, from packages already installed (nothing is downloaded).

ImageNet-1k: torchvision's weight metadata. ImageNet-21k (the 21,843 classes of the official and AugReg
heads): timm's synset list and WordNet lemmas, when timm is installed; otherwise ``None`` (indices) and a note.
"""

from __future__ import annotations

import sys
from functools import cache

NOTE_21K = (
    "vitkit: ImageNet-21k class names come from timm's synset list (pip install timm); predictions show class indices"
)


@cache
def imagenet1k() -> list[str]:
    from torchvision.models import ViT_B_16_Weights

    return list(ViT_B_16_Weights.IMAGENET1K_V1.meta["categories"])


@cache
def imagenet21k() -> list[str] | None:
    """The 21,843 ImageNet-21k class names (first WordNet lemma of each synset), or None without timm."""
    try:
        from importlib import resources

        info = resources.files("timm.data") / "_info"
        synsets = (info / "imagenet21k_goog_synsets.txt").read_text().split()
        lemmas = dict(
            line.split("\t", 1)
            for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines()
            if "\t" in line
        )
    except (ImportError, OSError):
        return None
    return [lemmas.get(s, s).split(",")[0].strip() for s in synsets]


def class_names(label_set: str, num_classes: int) -> list[str] | None:
    """The names of ``label_set`` (imagenet1k | imagenet21k) if the model's head has that many classes."""
    names = {"imagenet1k": imagenet1k, "imagenet21k": imagenet21k}.get(label_set, lambda: None)()
    if label_set == "imagenet21k" and names is None and num_classes:
        print(NOTE_21K, file=sys.stderr)
    return names if names is not None and len(names) == num_classes else None


def label_set_of_timm(model_id: str) -> str:
    """The label set a timm pretrained tag implies (``..._in1k`` -> imagenet1k, ``.augreg_in21k`` -> imagenet21k)."""
    tag = model_id.rsplit(".", 1)[-1] if "." in model_id else ""
    if tag.endswith("in1k"):
        return "imagenet1k"
    if tag.endswith("in21k"):
        return "imagenet21k"
    return "none"
