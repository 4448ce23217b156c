"""Published checkpoints by name: the registry, download (resumable, verified, cached), labels.

``vitkit.load("ViT-B/16:imagenet21k+imagenet2012@384")``, ``vitkit.load("hf:google/vit-base-patch16-224")``
and ``vitkit.load("timm:vit_small_patch16_224.augreg_in21k")`` come through here. Cache: ``VITKIT_HOME``
(default ``~/.cache/vitkit``); offline: ``VITKIT_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``; mirror: ``VITKIT_HUB_URL``.
"""

from .errors import HubError
from .names import is_name, parse
from .registry import Entry, entries, register
from .resolve import Resolved, fetch_name, resolve

__all__ = ["Entry", "HubError", "entries", "fetch_name", "is_name", "parse", "register", "resolve", "Resolved"]
