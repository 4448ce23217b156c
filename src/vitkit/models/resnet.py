"""The BiT ResNet: GroupNorm and weight-standardised convolutions (paper section 3).

Two bodies share one layout, chosen by ``ResNetConfig.unit``:

- ``"post_act"``: the official ViT hybrid's CNN (``vit_jax/models_resnet.py``).
  root ``conv_root`` 7x7/2 -> ``gn_root`` -> ReLU -> max-pool 3x3/2, then post-activation bottlenecks.
- ``"pre_act"``: the BiT paper's ResNetV2. root ``conv_root`` 7x7/2 -> max-pool 3x3/2 (no norm),
  pre-activation bottlenecks, and a final ``norm`` (GroupNorm + ReLU) so the output is ready to pool.

State-dict keys use the official module names, so a checkpoint maps by eye
(``block{i+1}/unit{j+1}/conv1/kernel`` <-> ``stages.{i}.units.{j}.conv1.weight``)::

    conv_root.weight                      gn_root.{weight,bias}          (post_act only)
    stages.{i}.units.{j}.conv{1,2,3}.weight
    stages.{i}.units.{j}.gn{1,2,3}.{weight,bias}
    stages.{i}.units.{j}.conv_proj.weight  (first unit of a stage, when the shape changes)
    stages.{i}.units.{j}.gn_proj.{weight,bias}                          (post_act only)
    norm.{weight,bias}                                                  (pre_act only)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import BiTConfig, ResNetConfig
from .info import DeclaresInfo, ModelInfo, model_name
from .trainable import TrainableModel


def same_tf_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(low, high) padding of TF/XLA ``SAME``: the output has ``ceil(size / stride)`` positions."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same_tf(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0) -> torch.Tensor:
    """Pad an NCHW tensor for TF ``SAME``; the split depends on the input size, so it is done per call."""
    top, bottom = same_tf_pads(x.shape[-2], kernel[0], stride[0])
    left, right = same_tf_pads(x.shape[-1], kernel[1], stride[1])
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom), value=value)
    return x


def standardize_weight(weight: torch.Tensor, eps: float) -> torch.Tensor:
    """``(w - mean) / (std + eps)`` per output channel over (in, kh, kw), population std (official StdConv)."""
    # Two passes (mean, then the norm of the centred weight) instead of torch.std_mean: the same
    # numbers, about 3x faster forward and backward on CPU, where std_mean's Welford loop dominates.
    centred = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
    std = torch.linalg.vector_norm(centred, dim=(1, 2, 3), keepdim=True) / math.sqrt(weight[0].numel())
    return centred / (std + eps)


def _is_static(kernel: tuple[int, int], stride: tuple[int, int]) -> bool:
    # TF SAME never pads a 1x1 kernel, and with stride 1 pads k-1 whatever the size (symmetric for odd k),
    # so only these cases can use conv2d's own padding and skip the per-call F.pad.
    return all(k == 1 or (s == 1 and k % 2 == 1) for k, s in zip(kernel, stride))


class StdConv2d(nn.Conv2d):
    """Weight-standardised convolution without bias; the weight is standardised at every call.

    ``padding="same_tf"`` pads like TF/XLA ``SAME`` from the actual input size (asymmetric when the
    stride is 2); an int pads symmetrically with zeros, as ``nn.Conv2d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: str | int = "same_tf",
        eps: float = 1e-5,
    ) -> None:
        dynamic = padding == "same_tf" and not _is_static((kernel_size,) * 2, (stride,) * 2)
        static = (kernel_size - 1) // 2 if padding == "same_tf" else padding
        super().__init__(in_channels, out_channels, kernel_size, stride, 0 if dynamic else static, bias=False)
        self.same_tf = dynamic
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_tf:
            x = pad_same_tf(x, self.kernel_size, self.stride)
        return F.conv2d(x, standardize_weight(self.weight, self.eps), None, self.stride, self.padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", eps={self.eps}" + (", padding=same_tf" if self.same_tf else "")


class PaddedMaxPool2d(nn.Module):
    """Max-pool with TF ``SAME`` padding by ``-inf`` (``"same_tf"``) or BiT's symmetric zero padding (an int).

    BiT pads the (not rectified) root output with zeros before pooling, so an int pad is a real
    zero border, unlike ``nn.MaxPool2d(padding=...)`` which ignores padded positions.
    """

    def __init__(self, kernel_size: int = 3, stride: int = 2, padding: str | int = "same_tf") -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = (self.kernel_size,) * 2, (self.stride,) * 2
        if self.padding == "same_tf":
            x = pad_same_tf(x, k, s, value=float("-inf"))
        elif self.padding:
            x = F.pad(x, (self.padding,) * 4)
        return F.max_pool2d(x, k, s)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _conv_padding(cfg: ResNetConfig, kernel_size: int) -> str | int:
    return "same_tf" if cfg.padding == "same_tf" else (kernel_size - 1) // 2


class PostActBottleneck(nn.Module):
    """Official ViT-hybrid unit: ``relu(proj(x) + gn3(conv3(relu(gn2(conv2(relu(gn1(conv1(x)))))))))``."""

    def __init__(self, cfg: ResNetConfig, in_chans: int, features: int, stride: int) -> None:
        super().__init__()
        out, eps = 4 * features, cfg.ws_eps
        self.conv_proj = self.gn_proj = None
        if in_chans != out or stride != 1:
            self.conv_proj = StdConv2d(in_chans, out, 1, stride, eps=eps)
            self.gn_proj = nn.GroupNorm(cfg.gn_groups, out, eps=cfg.gn_eps)
        self.conv1 = StdConv2d(in_chans, features, 1, eps=eps)
        self.gn1 = nn.GroupNorm(cfg.gn_groups, features, eps=cfg.gn_eps)
        self.conv2 = StdConv2d(features, features, 3, stride, _conv_padding(cfg, 3), eps=eps)
        self.gn2 = nn.GroupNorm(cfg.gn_groups, features, eps=cfg.gn_eps)
        self.conv3 = StdConv2d(features, out, 1, eps=eps)
        self.gn3 = nn.GroupNorm(cfg.gn_groups, out, eps=cfg.gn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In-place ReLUs are safe here: GroupNorm's backward needs its input, not its output.
        shortcut = x if self.conv_proj is None else self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)), inplace=True)
        y = F.relu(self.gn2(self.conv2(y)), inplace=True)
        return F.relu(shortcut + self.gn3(self.conv3(y)), inplace=True)


class PreActBottleneck(nn.Module):
    """BiT ResNetV2 unit: ``out = relu(gn1(x))``; ``conv3(relu(gn3(conv2(relu(gn2(conv1(out))))))) + shortcut``.

    The projection, when there is one, reads the pre-activated ``out``, otherwise the shortcut is ``x``.
    """

    def __init__(self, cfg: ResNetConfig, in_chans: int, features: int, stride: int) -> None:
        super().__init__()
        out, eps = 4 * features, cfg.ws_eps
        self.conv_proj = None
        if in_chans != out or stride != 1:
            self.conv_proj = StdConv2d(in_chans, out, 1, stride, eps=eps)
        self.gn1 = nn.GroupNorm(cfg.gn_groups, in_chans, eps=cfg.gn_eps)
        self.conv1 = StdConv2d(in_chans, features, 1, eps=eps)
        self.gn2 = nn.GroupNorm(cfg.gn_groups, features, eps=cfg.gn_eps)
        self.conv2 = StdConv2d(features, features, 3, stride, _conv_padding(cfg, 3), eps=eps)
        self.gn3 = nn.GroupNorm(cfg.gn_groups, features, eps=cfg.gn_eps)
        self.conv3 = StdConv2d(features, out, 1, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.gn1(x), inplace=True)
        shortcut = x if self.conv_proj is None else self.conv_proj(out)
        y = self.conv1(out)
        y = self.conv2(F.relu(self.gn2(y), inplace=True))
        y = self.conv3(F.relu(self.gn3(y), inplace=True))
        return y + shortcut


class ResNetStage(nn.Module):
    """``num_units`` bottlenecks; only the first one strides and changes the width."""

    def __init__(self, cfg: ResNetConfig, in_chans: int, features: int, num_units: int, stride: int) -> None:
        super().__init__()
        unit = PostActBottleneck if cfg.unit == "post_act" else PreActBottleneck
        self.units = nn.Sequential(
            *(
                unit(cfg, in_chans if j == 0 else 4 * features, features, stride if j == 0 else 1)
                for j in range(num_units)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.units(x)


class ResNetBody(nn.Module):
    """A BiT ResNet without pooling or head: NCHW image -> NCHW feature map of ``cfg.out_channels``.

    The output is ``cfg.reduction`` times smaller than the input (rounded up). See the module
    docstring for the two unit kinds and the state-dict layout.
    """

    def __init__(self, cfg: ResNetConfig, in_chans: int = 3) -> None:
        super().__init__()
        self.config = cfg
        width, post_act = cfg.width, cfg.unit == "post_act"
        self.conv_root = StdConv2d(in_chans, width, 7, 2, _conv_padding(cfg, 7), eps=cfg.ws_eps)
        self.gn_root = nn.GroupNorm(cfg.gn_groups, width, eps=cfg.gn_eps) if post_act else None
        self.pool = PaddedMaxPool2d(3, 2, _conv_padding(cfg, 3))
        stages, chans = [], width
        for i, num_units in enumerate(cfg.num_layers):
            stages.append(ResNetStage(cfg, chans, width * 2**i, num_units, 1 if i == 0 else 2))
            chans = 4 * width * 2**i
        self.stages = nn.ModuleList(stages)
        self.norm = None if post_act else nn.GroupNorm(cfg.gn_groups, chans, eps=cfg.gn_eps)
        self.grad_checkpointing = False  # recompute each unit's activations in the backward pass
        self.reset_parameters()

    @property
    def out_channels(self) -> int:
        return self.config.out_channels

    @property
    def reduction(self) -> int:
        return self.config.reduction

    def reset_parameters(self) -> None:
        """Convs normal with std 1/sqrt(fan_in), GroupNorm 1/0, post-act ``gn3`` scale 0 (as the official code).

        Weight standardisation makes the forward pass blind to the conv init's scale; only the
        gradients' size depends on it (flax's default, truncated lecun normal, is the same scale).
        """
        for m in self.modules():
            if isinstance(m, StdConv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")
            elif isinstance(m, nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # A second pass: modules() visits a unit before its gn3, so the loop above would undo this.
        for m in self.modules():
            if isinstance(m, PostActBottleneck):
                nn.init.zeros_(m.gn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)

    def forward_intermediates(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The output and a dict of NCHW maps: ``conv_root``, ``gn_root`` (post_act, before ReLU/pool), ``block1``..."""
        feats: dict[str, torch.Tensor] = {}
        return self._run(x, feats), feats

    def _run(self, x: torch.Tensor, feats: dict[str, torch.Tensor] | None) -> torch.Tensor:
        # One path for both entry points; forward passes None so it holds no extra references.
        x = self.conv_root(x)
        if feats is not None:
            feats["conv_root"] = x
        if self.gn_root is not None:
            x = self.gn_root(x)
            if feats is not None:
                feats["gn_root"] = x
            x = F.relu(x)
        x = self.pool(x)
        for i, stage in enumerate(self.stages, 1):
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                for unit in stage.units:
                    x = checkpoint(unit, x, use_reentrant=False)
            else:
                x = stage(x)
            if feats is not None:
                feats[f"block{i}"] = x
        if self.norm is not None:
            x = F.relu(self.norm(x), inplace=True)
        return x


class BiTResNet(DeclaresInfo, nn.Module, TrainableModel):
    """A BiT classifier (the paper's CNN baselines): ResNet body -> global average pool -> linear head.

    The head is zero-initialised, as for fine-tuning in the paper; ``num_classes=0`` means no head
    (the pooled vector is the output). Keys: ``body.*`` (see ``ResNetBody``), ``head.{weight,bias}``.
    """

    def __init__(self, cfg: BiTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.info = ModelInfo(model_name(cfg))
        self.body = ResNetBody(cfg.resnet, cfg.in_chans)
        self.head = self._make_head(cfg.num_classes)

    def _make_head(self, num_classes: int) -> nn.Module:
        if not num_classes:
            return nn.Identity()
        head = nn.Linear(self.config.embed_dim, num_classes)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        return head

    @property
    def num_features(self) -> int:
        return self.config.embed_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's final NCHW feature map."""
        return self.body(x)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Average-pool the feature map; the pooled vector if ``pre_logits``, else the logits."""
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The image representation: the pooled features before the head, (B, embed_dim)."""
        return self.forward_head(self.forward_features(x), pre_logits=True)

    def set_image_size(self, image_size: int | tuple[int, int], mode: str = "bilinear") -> None:
        """The resolution the model is evaluated at (and its transform resizes to); a ResNet's weights do not
        depend on it, so ``mode`` is unused (it is there to match ``VisionTransformer.set_image_size``)."""
        self.config = self.config.replace(image_size=image_size)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a zero-initialised one for ``num_classes`` (0: no head)."""
        self.config = self.config.replace(num_classes=num_classes)
        self.info.name = model_name(self.config)
        ref = self.body.conv_root.weight
        self.head = self._make_head(num_classes).to(device=ref.device, dtype=ref.dtype)

    def no_weight_decay(self) -> set[str]:
        """Names of parameters to exempt from weight decay: none (the paper names no exemptions)."""
        return set()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each bottleneck unit's activations in the backward pass instead of storing them."""
        self.body.grad_checkpointing = enable

    def fsdp_units(self) -> list[nn.Module]:
        """None: FSDP shards a BiT model as one unit (per-unit sharding is not tried yet)."""
        return []
