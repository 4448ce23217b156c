"""Whether a model can classify: its head is ``valid``, ``zeroed`` (all weights and biases 0) or ``absent``.

The authors zeroed the 21,843-way heads of the original ImageNet-21k ViT files (their repository's issues #10
and #32); timm's copies of them carry no head at all, and a model fresh from ``create_model`` starts with a
zero head too (the paper's initialisation). Such a model outputs the same scores for every image: a feature
extractor, not a classifier. ``require_classifier`` says so in one line, and what to do instead.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import nn

from ..errors import VitkitError

HeadState = Literal["valid", "zeroed", "absent"]


class NotAClassifierError(VitkitError):
    """A feature extractor (zeroed or absent head) given to predict, eval or serve."""


def head_state(model: Any) -> HeadState:
    """``absent`` without a head (``num_classes == 0``), ``zeroed`` when every head weight and bias is 0.

    Models whose weights are not at hand (the ONNX runner) report what their checkpoint declared
    (``info.extra["head"]``), else ``valid``.
    """
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear) or getattr(model.config, "num_classes", 0) == 0:
        return head_state_of(model.config, list(head.parameters()) if isinstance(head, nn.Linear) else [])
    return model.info.extra.get("head", "valid")


def head_state_of(config: Any, tensors: list[Any]) -> HeadState:
    """The state of a head given by its config and its tensors (weight, bias), as a checkpoint holds them."""
    if getattr(config, "num_classes", 0) == 0:
        return "absent"
    return "zeroed" if tensors and not any(bool(t.detach().any()) for t in tensors) else "valid"


def require_classifier(model: Any, what: str) -> None:
    """Refuse, in one line naming ``what`` (the checkpoint), a model whose head cannot classify."""
    state = head_state(model)
    if state == "valid":
        return
    hub = model.info.extra.get("hub") or {}
    released = hub.get("head")
    if state == "absent" and released == "zeroed":
        why = "the authors zeroed this release's head; vitkit drops it"
    elif state == "absent":
        why = "it has no classification head"
    else:
        why = "its classification head is all zeros (untrained, or zeroed by its authors)"
    also = f", or the classifier {hub['classifier']}" if hub.get("classifier") else ""
    raise NotAClassifierError(
        f"{what}: a feature extractor, not a classifier ({why}): use `vitkit embed` or `vitkit fewshot` for its "
        f"features, `vitkit finetune` to train a head{also}"
    )
