"""One name, one model: what any source of a registry name delivers is made the model the registry says.

Sources build their files differently. The official ImageNet-21k ViT files hold a head the authors zeroed and the
pre-logits layer; the Hugging Face copies hold the pre-logits (their "pooler") and no head; timm and Hugging Face
run the weights with the exact GELU (and Hugging Face with LayerNorm eps 1e-12) where the authors' code uses the
tanh approximation and 1e-6; a BiT file does not say at which resolution it is evaluated. ``conform`` settles each
of these by the registry entry, so a name gives the same state-dict keys, shapes, config and outputs from every
source, and refuses a file that cannot give that model (a copy without the pre-logits the name promises, a head
of another size, a head the release zeroed that is not zero).
"""

from __future__ import annotations

from typing import Any

from .errors import HubError
from .registry import Entry

HEAD_KEYS = ("head.weight", "head.bias")


def conform(entry: Entry, ckpt: Any, where: str) -> Any:
    """``ckpt`` (a ``Checkpoint`` read from a source of ``entry``) as the entry's model; ``where`` names the file."""
    want = entry.model_config()
    cfg = ckpt.config
    if hasattr(want, "gelu"):  # ViT: the authors' activation and LayerNorm, whichever library wrote the copy
        _check_pre_logits(entry, cfg, want, where)
        cfg = cfg.replace(gelu=want.gelu, layer_norm_eps=want.layer_norm_eps, name=want.name)
    else:  # BiT: the resolution the authors evaluate at (the weights do not depend on it)
        cfg = cfg.replace(image_size=want.image_size, name=want.name)
    ckpt.state_dict = _conform_head(entry, ckpt.state_dict, where)
    ckpt.config = cfg.replace(num_classes=want.num_classes)
    ckpt.extra = {**ckpt.extra, "transform": entry.transform_config().to_dict()}
    return ckpt


def _check_pre_logits(entry: Entry, cfg: Any, want: Any, where: str) -> None:
    if cfg.representation_size == want.representation_size:
        return
    has = "has no pre-logits layer" if cfg.representation_size is None else "has a pre-logits layer"
    promise = "with" if want.representation_size else "without"
    raise HubError(f"{where}: refused for {entry.name}: the file {has}; the name's model is {promise} one")


def _conform_head(entry: Entry, sd: dict[str, Any], where: str) -> dict[str, Any]:
    """The state dict with the released head if it is valid, without it otherwise (checked against the entry)."""
    head = sd.get("head.weight")
    size = 0 if head is None else head.shape[0]
    if entry.classifies:
        if size != entry.num_classes:
            got = f"a {size}-way head" if size else "no head"
            raise HubError(
                f"{where}: refused for {entry.name}: the file has {got}, the release a {entry.num_classes}-way one"
            )
        return sd
    if size and entry.head == "zeroed" and any(sd[k].any() for k in HEAD_KEYS if k in sd):
        raise HubError(
            f"{where}: refused for {entry.name}: its authors released this file with a zeroed head, "
            "this file's head is not zero (not the released file)"
        )
    return {k: v for k, v in sd.items() if k not in HEAD_KEYS}
