"""Masked patch prediction (paper §4.6, appendix B.1.2): BERT's masked-language objective for patches.

Of each image's patch embeddings (after the patch projection, before the class token and position
embeddings), ``round(mask_rate * N)`` are chosen uniformly at random (the paper: 50%). Each chosen one
independently becomes the learnable [mask] embedding (80%), the embedding of a random other patch of
the batch (10%) or stays as it is (10%). For every chosen patch the model predicts, from its final
representation through a linear head, the patch's mean colour quantised to 3 bits per channel: class
``r * 64 + g * 8 + b`` of 512.

``MPPModel`` holds the ViT, the [mask] embedding and the 512-way head: the trainer optimises and
checkpoints it (``last.pt``), while the weights files of the run (``last/best/final.safetensors``) are
the bare ViT's, so the run folder fine-tunes like any checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..models.info import DeclaresInfo, ModelInfo
from ..models.trainable import TrainableModel
from ..models.vit import VisionTransformer

COLOUR_BITS = 3
NUM_COLOURS = 2 ** (3 * COLOUR_BITS)  # 512

# what ``corrupt`` did to each patch
KEPT = 0  # not chosen: no prediction asked
MASK = 1  # replaced by the [mask] embedding
RANDOM = 2  # replaced by another patch's embedding
UNCHANGED = 3  # chosen, left as it was
SHARES = (0.8, 0.1, 0.1)  # of the chosen patches: MASK, RANDOM, UNCHANGED


def num_masked(num_patches: int, mask_rate: float) -> int:
    """Patches chosen per image: ``round(mask_rate * num_patches)``."""
    return round(mask_rate * num_patches)


def corrupt(
    tokens: torch.Tensor, mask_rate: float, mask_token: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Corrupt patch tokens ``(B, N, D)`` as masked patch prediction does.

    Returns ``(corrupted (B, N, D), masked bool (B, N), kind int64 (B, N))``; ``masked`` marks the
    chosen patches (exactly ``round(mask_rate * N)`` per image), ``kind`` holds ``KEPT``, ``MASK``,
    ``RANDOM`` or ``UNCHANGED``. A ``RANDOM`` patch takes the original embedding of a different
    position of the batch (any image, any position but its own), drawn uniformly. Random draws come
    from ``generator`` (its device) or torch's global RNG on the tokens' device.
    """
    b, n, d = tokens.shape
    k = num_masked(n, mask_rate)
    if not 0 < k <= n:
        raise ConfigError(f"mpp_mask_rate {mask_rate}: {k} of {n} patches per image (expected 1..{n})")
    dev = generator.device if generator is not None else tokens.device
    # k smallest of N uniform scores: a uniformly random k-subset per image
    scores = torch.rand(b, n, generator=generator, device=dev)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    masked = ranks < k
    u = torch.rand(b, n, generator=generator, device=dev)
    kind = torch.full((b, n), UNCHANGED, dtype=torch.int64, device=dev)
    kind[u < SHARES[0] + SHARES[1]] = RANDOM
    kind[u < SHARES[0]] = MASK
    kind[~masked] = KEPT
    total = b * n
    if total > 1:  # another position: draw among total - 1 and skip over one's own
        source = torch.randint(0, total - 1, (b, n), generator=generator, device=dev)
        own = torch.arange(total, device=dev).view(b, n)
        source = source + (source >= own)
    else:  # a single patch has no other: leave it unchanged
        source = torch.zeros(b, n, dtype=torch.int64, device=dev)
        kind[kind == RANDOM] = UNCHANGED
    masked, kind, source = masked.to(tokens.device), kind.to(tokens.device), source.to(tokens.device)
    replaced = tokens.reshape(total, d)[source.view(-1)].view(b, n, d)
    out = torch.where((kind == RANDOM).unsqueeze(-1), replaced, tokens)
    out = torch.where((kind == MASK).unsqueeze(-1), mask_token.to(tokens.dtype).expand(b, n, d), out)
    return out, masked, kind


def mean_colour_targets(images01: torch.Tensor, patch_size: int | Sequence[int]) -> torch.Tensor:
    """Each patch's mean colour quantised to 3 bits per channel, ``(B, N)`` int64 in ``[0, 512)``.

    ``images01``: ``(B, C, H, W)`` in [0, 1], C = 3 or 1 (grey counts as r = g = b); patches in raster
    order, as the ViT's tokens. Channel value ``v`` falls in bin ``floor(8 v)`` (1.0 in bin 7); a value
    on a bin edge (0.5 exactly) goes up even after the float error of undoing a normalisation.
    """
    if images01.ndim != 4 or images01.shape[1] not in (1, 3):
        raise ValueError(f"mean_colour_targets: expected (B, 1 or 3, H, W) images, got {tuple(images01.shape)}")
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
    x = images01.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    means = F.avg_pool2d(x, kernel_size=(ph, pw), stride=(ph, pw))  # (B, 3, gh, gw)
    levels = 2**COLOUR_BITS
    bins = (means * levels + 1e-5).floor().clamp_(0, levels - 1).long()
    classes = bins[:, 0] * levels * levels + bins[:, 1] * levels + bins[:, 2]
    return classes.flatten(1)


class MPPHead(nn.Linear):
    """The prediction head: a linear map from a patch's final (normalised) token to 512 colour logits,
    zero-initialised like the classifier."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, NUM_COLOURS)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class MPPModel(DeclaresInfo, nn.Module, TrainableModel):
    """A ViT with the [mask] embedding and the 512-way colour head of masked patch prediction.

    ``forward(images, mask_rate)`` -> ``(logits (B, N, 512), targets (B, N), masked (B, N))``. ``mean``/``std``:
    the normalisation of the inputs, undone to compute the colour targets. The ViT's own pre-logits
    and classifier are not used by this objective: they are frozen, so that DDP does not wait for
    their gradients (fine-tuning replaces the classifier anyway).
    """

    def __init__(self, vit: VisionTransformer, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if not isinstance(vit, VisionTransformer):
            raise ConfigError(f"objective mpp: needs a ViT, got {type(vit).__name__}")
        self.vit = vit
        d = vit.config.hidden_size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.head = MPPHead(d)
        for p in [*vit.pre_logits.parameters(), *vit.head.parameters()]:
            p.requires_grad_(False)
        ref = next(vit.parameters())
        self.register_buffer("pixel_mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.to(ref.device)

    @property
    def config(self) -> Any:
        """The ViT's config (the ``ImageModel`` protocol)."""
        return self.vit.config

    @property
    def info(self) -> ModelInfo:
        """The ViT's info: the weights files of an MPP run are the ViT's."""
        return self.vit.info

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The ViT's image representation (the colour head is for pre-training only)."""
        return self.vit.embed(images)

    def no_weight_decay(self) -> set[str]:
        return {f"vit.{name}" for name in self.vit.no_weight_decay()} | {"mask_token"}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.vit.set_grad_checkpointing(enable)

    def fsdp_units(self) -> list[nn.Module]:
        """The ViT's blocks, one by one."""
        return self.vit.fsdp_units()

    def reset_classifier(self, num_classes: int) -> None:
        """The ViT's classifier, replaced and frozen like the old one (this objective does not train it)."""
        self.vit.reset_classifier(num_classes)
        self.vit.head.requires_grad_(False)

    def patch_pixels(self) -> tuple[int, int]:
        """Image pixels one token covers (the patch, times the ResNet stem's reduction in hybrids)."""
        ph, pw = self.vit.config.patch_size
        r = self.vit.config.resnet.reduction if self.vit.config.resnet is not None else 1
        return ph * r, pw * r

    def forward(self, images: torch.Tensor, mask_rate: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        seen: dict[str, torch.Tensor] = {}

        def hook(tokens: torch.Tensor) -> torch.Tensor:
            corrupted, seen["masked"], _ = corrupt(tokens, mask_rate, self.mask_token)
            return corrupted

        tokens = self.vit.forward_features(images, patch_hook=hook)
        logits = self.head(tokens[:, self.vit.config.num_prefix_tokens :])
        with torch.no_grad():
            images01 = (images.float() * self.pixel_std + self.pixel_mean).clamp(0.0, 1.0)
            targets = mean_colour_targets(images01, self.patch_pixels())
        return logits, targets, seen["masked"]

    @staticmethod
    def vit_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The bare ViT's weights out of an ``MPPModel`` state dict (``vit.`` prefix removed)."""
        return {k.removeprefix("vit."): v for k, v in state.items() if k.startswith("vit.")}


def masked_patch_prediction(
    mask_rate: float,
) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]:
    """The objective for an ``MPPModel`` (possibly DDP-wrapped): cross-entropy on the chosen patches.

    Stats: ``mpp_top1``, the colour accuracy on the chosen patches of the batch.
    """
    if not 0 < mask_rate <= 1:
        raise ConfigError(f"mpp_mask_rate: expected a fraction in (0, 1], got {mask_rate}")

    def loss_fn(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits, targets, masked = model(images, mask_rate)
        chosen, wanted = logits[masked].float(), targets[masked]
        loss = F.cross_entropy(chosen, wanted)
        acc = (chosen.argmax(1) == wanted).float().mean()
        return loss, {"mpp_top1": float(acc)}

    return loss_fn
