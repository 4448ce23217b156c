"""The Vision Transformer (paper §3.1, eq. 1-4), with the hybrid stem of §3.3.

Data flow: ``patch_embed`` (conv P x P, or ResNet + conv) -> ``cls_token`` prepended -> ``pos_embed``
-> ``blocks`` -> ``norm`` -> pooling (class token or mean) -> ``pre_logits`` -> ``head``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import ViTConfig
from .info import DeclaresInfo, ModelInfo, model_name
from .init import lecun_normal_
from .layers import Block
from .posemb import ADDITIVE, RelativePositionBias, num_sets
from .trainable import TrainableModel


class PatchEmbed(nn.Module):
    """Cuts the image (or the ResNet feature map) into P x P patches and projects each to D."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.patch_size = cfg.patch_size
        self.in_chans = cfg.in_chans
        self.backbone = None
        in_chans = cfg.in_chans
        if cfg.resnet is not None:
            from .resnet import ResNetBody

            self.backbone = ResNetBody(cfg.resnet, cfg.in_chans)
            in_chans = cfg.resnet.out_channels
        self.proj = nn.Conv2d(in_chans, cfg.hidden_size, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        lecun_normal_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, inter: dict[str, Any] | None = None) -> torch.Tensor:
        """Patch grid (B, D, gh, gw); fills ``inter`` with the stem's intermediates when given."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"input: expected (B, {self.in_chans}, H, W) images, got shape {tuple(x.shape)}")
        if self.backbone is not None:
            if inter is None:
                x = self.backbone(x)
            else:
                x, stem = self.backbone.forward_intermediates(x)
                inter.update(stem)
        ph, pw = self.patch_size
        if x.shape[-2] % ph or x.shape[-1] % pw:
            where = "image" if self.backbone is None else "ResNet feature map"
            raise ValueError(
                f"input: {where} size {x.shape[-2]}x{x.shape[-1]} is not divisible by patch size {ph}x{pw}"
            )
        x = self.proj(x)
        if inter is not None:
            inter["embedding"] = x
        return x


class VisionTransformer(DeclaresInfo, nn.Module, TrainableModel):
    """ViT for images of any size the patch size divides (position embeddings are resized to fit).

    ``forward(x)`` -> logits; ``forward_features`` -> all tokens after the final LayerNorm;
    ``forward_head(tokens, pre_logits=True)`` -> the image representation y; ``forward_intermediates``
    -> a dict of every stage's output (and attention weights on request). ``info`` (``ModelInfo``): its
    truthful name, class names, transform and provenance (``vitkit.load`` fills them).
    """

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.info = ModelInfo(model_name(cfg))
        d, prefix = cfg.hidden_size, cfg.num_prefix_tokens
        self.grad_checkpointing = False
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if prefix else None
        self.pos_embed = None
        if cfg.posemb in ADDITIVE:
            self.pos_embed = ADDITIVE[cfg.posemb](num_sets(cfg.posemb_at, cfg.num_layers), cfg.grid_size, prefix, d)
        self.rel_pos = None
        if cfg.posemb == "relative":
            self.rel_pos = nn.ModuleList(
                RelativePositionBias(cfg.grid_size, prefix, cfg.num_heads) for _ in range(cfg.num_layers)
            )
        self.pos_drop = nn.Dropout(cfg.dropout_rate)
        n = cfg.num_layers
        rates = [cfg.drop_path_rate * i / max(n - 1, 1) for i in range(n)]
        self.blocks = nn.ModuleList(Block(cfg, rate) for rate in rates)
        self.norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.pre_logits = self._make_pre_logits(cfg)
        self.head = self._make_head(cfg.embed_dim, cfg.num_classes)

    @staticmethod
    def _make_pre_logits(cfg: ViTConfig) -> nn.Module:
        if cfg.representation_size is None:
            return nn.Identity()
        fc = nn.Linear(cfg.hidden_size, cfg.representation_size)
        lecun_normal_(fc.weight)
        nn.init.zeros_(fc.bias)
        return nn.Sequential(fc, nn.Tanh())

    @staticmethod
    def _make_head(dim: int, num_classes: int) -> nn.Module:
        if num_classes == 0:
            return nn.Identity()
        head = nn.Linear(dim, num_classes)
        nn.init.zeros_(head.weight)  # the paper's zero-initialised classifier
        nn.init.zeros_(head.bias)
        return head

    # ----------------------------------------------------------------------------------------- API

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a zero-initialised one for ``num_classes`` (0 = no head)."""
        self.config = self.config.replace(num_classes=num_classes)
        self.info.name = model_name(self.config)
        ref = next(self.parameters())
        self.head = self._make_head(self.config.embed_dim, num_classes).to(ref.device, ref.dtype)

    def set_image_size(self, image_size: int | tuple[int, int], mode: str = "bilinear") -> None:
        """Store position embeddings for a new resolution (class-token row kept, grid interpolated).

        ``bilinear`` (align_corners=True) is the official fine-tuning resize; ``bicubic`` on request.
        Other sizes work at run time anyway; this makes the new size native (and trainable there).
        """
        self.config = self.config.replace(image_size=image_size)
        self.info.name = model_name(self.config)
        grid = self.config.grid_size
        for module in [self.pos_embed, *(self.rel_pos or [])]:
            if module is not None:
                module.resize_(grid, mode)

    def drop_pre_logits(self) -> None:
        """Remove the pre-logits layer (fine-tuning drops it, as the official code does) and reset the head."""
        self.config = self.config.replace(representation_size=None)
        self.pre_logits = nn.Identity()
        self.reset_classifier(self.config.num_classes)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass instead of storing them."""
        self.grad_checkpointing = enable

    def no_weight_decay(self) -> set[str]:
        """Parameters the recipes exclude from weight decay: class token and position embeddings."""
        return {n for n, _ in self.named_parameters() if n.startswith(("cls_token", "pos_embed", "rel_pos"))}

    def fsdp_units(self) -> list[nn.Module]:
        """FSDP shards each transformer block on its own."""
        return list(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x, class_token_only=self._reads_class_token))

    def forward_features(
        self,
        x: torch.Tensor,
        patch_hook: Callable[[torch.Tensor], torch.Tensor] | None = None,
        class_token_only: bool = False,
    ) -> torch.Tensor:
        """All tokens after the final LayerNorm, (B, T, D); T includes the class token.

        ``patch_hook`` maps the patch tokens (B, N, D), straight out of the patch projection (before
        the class token and position embeddings), to their replacement: masked patch prediction
        (§4.6) corrupts them there. ``class_token_only``: the class token alone, (B, 1, D), with the
        last block run for it only (its query against all keys, its MLP) -- the same values, for about
        (depth - 1) / depth of the work; what ``forward`` and ``embed`` do for class-token models.
        """
        if class_token_only and self.cls_token is None:
            raise ValueError("class_token_only: this model has no class token")
        x, grid = self._embed(x, patch_hook=patch_hook)
        biases = self._attention_biases(grid)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = self._add_posemb(x, grid, i)
            bias = biases[i] if biases else None
            queries = 1 if class_token_only and i == last else None
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x, _ = checkpoint(block, x, bias, False, queries, use_reentrant=False)
            else:
                x, _ = block(x, bias, queries=queries)
        return self.norm(x)

    @property
    def _reads_class_token(self) -> bool:
        """Whether pooling reads the class token alone (then the last block need not run for the rest)."""
        return self.config.classifier == "token" and self.cls_token is not None

    def forward_head(self, tokens: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the tokens (class token or mean), apply pre-logits; the logits unless ``pre_logits``."""
        y = tokens[:, 0] if self.config.classifier == "token" else tokens.mean(dim=1)
        y = self.pre_logits(y)
        return y if pre_logits else self.head(y)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The image representation y (the paper's image embedding), (B, embed_dim)."""
        return self.forward_head(self.forward_features(x, class_token_only=self._reads_class_token), pre_logits=True)

    def forward_intermediates(self, x: torch.Tensor, attention: bool = False) -> dict[str, Any]:
        """Every stage's output, named like the official modules.

        Keys: ``embedding`` (patch grid, B x D x gh x gw), ``posembed_input`` (tokens entering block 0),
        ``blocks`` (list of block outputs), ``encoded`` (after the final norm), ``pre_logits``, ``logits``,
        ``grid``; ``attention`` (list of B x heads x T x T weights) when asked; the ResNet stages for hybrids.
        """
        out: dict[str, Any] = {"blocks": []}
        x, grid = self._embed(x, out)
        out["grid"] = grid
        biases = self._attention_biases(grid)
        if attention:
            out["attention"] = []
        for i, block in enumerate(self.blocks):
            x = self._add_posemb(x, grid, i)
            if i == 0:
                out["posembed_input"] = x
            x, weights = block(x, biases[i] if biases else None, need_weights=attention)
            out["blocks"].append(x)
            if attention:
                out["attention"].append(weights)
        out["encoded"] = self.norm(x)
        out["pre_logits"] = self.forward_head(out["encoded"], pre_logits=True)
        out["logits"] = self.head(out["pre_logits"])
        return out

    # ----------------------------------------------------------------------------------- internals

    def _embed(
        self,
        x: torch.Tensor,
        inter: dict[str, Any] | None = None,
        patch_hook: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.patch_embed(x, inter)
        grid = (x.shape[-2], x.shape[-1])
        x = x.flatten(2).transpose(1, 2)
        if patch_hook is not None:
            x = patch_hook(x)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        return x, grid

    def _add_posemb(self, x: torch.Tensor, grid: tuple[int, int], layer: int) -> torch.Tensor:
        at = self.config.posemb_at
        if self.pos_embed is not None and (layer == 0 or at != "stem"):
            x = self.pos_embed(x, grid, layer if at == "every_layer" else 0)
        return self.pos_drop(x) if layer == 0 else x

    def _attention_biases(self, grid: tuple[int, int]) -> list[torch.Tensor] | None:
        if self.rel_pos is None:
            return None
        return [rel(grid) for rel in self.rel_pos]
