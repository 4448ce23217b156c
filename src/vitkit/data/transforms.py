"""Image transforms: one ``TransformConfig``, a per-image path (torchvision.transforms.v2) and a batched
path for in-memory uint8 batches. Both produce float (C, H, W) tensors normalised by ``mean``/``std``.

Order of operations (both paths): uint8 -> float in [0, 1]; geometry (train: random resized crop or
plain resize, then horizontal flip; eval: resize, optional centre crop); clamp to [0, 1] (bicubic
overshoots); channel matching to ``in_chans``; normalisation. Geometry on float, not uint8, keeps the
two paths equal to float precision (uint8 resizing rounds, and differently per kernel).

Eval geometry: with ``crop_pct = 1`` (default, as the official ViT fine-tuning evaluation) the image is
resized to ``image_size``, aspect ratio not kept. With ``crop_pct < 1`` (timm ImageNet style, e.g. 0.875)
a square ``image_size`` has the shorter side resized to ``size / crop_pct`` (aspect kept), a non-square
one both sides, then the centre ``image_size`` is cropped.

Channels: a grey image becomes ``in_chans = 3`` by replication (only when ``grey_to_rgb``, else a
DataError); RGB becomes ``in_chans = 1`` by ITU-R 601 luma; a 4th (alpha) channel is dropped.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from vitkit.data.errors import DataError
from vitkit.errors import ConfigError

VIT_MEAN = VIT_STD = (0.5, 0.5, 0.5)  # the official ViT: pixels in [-1, 1]
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # timm / Hugging Face ImageNet models
IMAGENET_STD = (0.229, 0.224, 0.225)
PRESETS = {"vit": (VIT_MEAN, VIT_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class TransformConfig:
    """How images become model inputs; stored in checkpoints via ``to_dict``/``from_dict``.

    ``train_crop="inception"`` is the Inception-style random resized crop of the paper's training
    (area ``crop_scale`` of the image, aspect ratio in ``crop_ratio``), ``"none"`` a plain resize.
    ``mean``/``std`` of length 1 are repeated to ``in_chans``; uniform ones (like ViT's 0.5) also
    shrink to ``in_chans = 1``.
    """

    image_size: tuple[int, int] = (224, 224)
    mean: tuple[float, ...] = VIT_MEAN
    std: tuple[float, ...] = VIT_STD
    train_crop: Literal["inception", "none"] = "inception"
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: bool = True
    grey_to_rgb: bool = True
    in_chans: int = 3
    crop_pct: float = 1.0
    interpolation: Literal["bilinear", "bicubic"] = "bilinear"

    def __post_init__(self) -> None:
        size = self.image_size
        size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
        if len(size) != 2 or min(size) <= 0:
            raise ConfigError(f"image_size: expected a positive int or (height, width), got {self.image_size!r}")
        object.__setattr__(self, "image_size", size)
        if self.in_chans not in (1, 3):
            raise ConfigError(f"in_chans: expected 1 or 3, got {self.in_chans!r}")
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) == 1 or (len(value) > self.in_chans and len(set(value)) == 1):
                value = value[:1] * self.in_chans  # a grey model may keep a uniform RGB preset (ViT's 0.5)
            if len(value) != self.in_chans:
                raise ConfigError(f"{name}: expected 1 or in_chans={self.in_chans} values, got {len(value)}")
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise ConfigError(f"std: expected positive values, got {self.std}")
        self._check_choices()
        object.__setattr__(self, "crop_scale", tuple(float(v) for v in self.crop_scale))
        object.__setattr__(self, "crop_ratio", tuple(float(v) for v in self.crop_ratio))
        if not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ConfigError(f"crop_scale: expected 0 < low <= high <= 1, got {self.crop_scale}")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ConfigError(f"crop_ratio: expected 0 < low <= high, got {self.crop_ratio}")
        if not 0 < self.crop_pct <= 1:
            raise ConfigError(f"crop_pct: expected a fraction in (0, 1], got {self.crop_pct!r}")

    def _check_choices(self) -> None:
        if self.train_crop not in ("inception", "none"):
            raise ConfigError(f"train_crop: expected one of inception, none, got {self.train_crop!r}")
        if self.interpolation not in ("bilinear", "bicubic"):
            raise ConfigError(f"interpolation: expected one of bilinear, bicubic, got {self.interpolation!r}")

    @classmethod
    def preset(cls, name: str, **changes: Any) -> TransformConfig:
        """``"vit"`` (mean = std = 0.5) or ``"imagenet"`` normalisation, other fields from ``changes``."""
        if name not in PRESETS:
            raise ConfigError(f"unknown transform preset {name!r} (valid: {', '.join(PRESETS)})")
        mean, std = PRESETS[name]
        return cls(**{"mean": mean, "std": std, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformConfig:
        """Rebuild from ``to_dict`` output; an unknown key is a ConfigError."""
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"transform config: unknown keys {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# -- shared pieces ---------------------------------------------------------------------------------


def eval_resize_size(height: int, width: int, cfg: TransformConfig) -> tuple[int, int]:
    """Size an image of ``height x width`` is resized to before the eval centre crop."""
    out_h, out_w = cfg.image_size
    if cfg.crop_pct >= 1:
        return out_h, out_w
    scale_h, scale_w = math.floor(out_h / cfg.crop_pct), math.floor(out_w / cfg.crop_pct)
    if out_h != out_w:
        return scale_h, scale_w
    if height <= width:  # shorter side to scale_h, the other in proportion (torchvision's rounding)
        return scale_h, int(scale_h * width / height)
    return int(scale_h * height / width), scale_h


def match_channels(x: torch.Tensor, cfg: TransformConfig) -> torch.Tensor:
    """``x`` (..., C, H, W) float with ``cfg.in_chans`` channels (rules in the module docstring)."""
    c = x.shape[-3]
    if c in (2, 4):  # LA / RGBA arrays: drop alpha
        x, c = x[..., : c - 1, :, :], c - 1
    if c == cfg.in_chans:
        return x
    if c == 1 and cfg.in_chans == 3:
        if not cfg.grey_to_rgb:
            raise DataError("grey image but in_chans=3: set grey_to_rgb=True or in_chans=1")
        return x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    if c == 3 and cfg.in_chans == 1:
        weights = torch.tensor(_LUMA, dtype=x.dtype).view(3, 1, 1)
        return (x * weights).sum(dim=-3, keepdim=True)
    raise DataError(f"cannot make a {c}-channel image into in_chans={cfg.in_chans}")


def _interpolation(cfg: TransformConfig) -> v2.InterpolationMode:
    return v2.InterpolationMode.BICUBIC if cfg.interpolation == "bicubic" else v2.InterpolationMode.BILINEAR


# -- the per-image path ----------------------------------------------------------------------------


class _EvalResize:
    """Resize to ``eval_resize_size`` then centre-crop ``image_size`` (a no-op crop when crop_pct = 1)."""

    def __init__(self, cfg: TransformConfig) -> None:
        self.cfg = cfg

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        size = eval_resize_size(image.shape[-2], image.shape[-1], self.cfg)
        image = TF.resize(image, list(size), interpolation=_interpolation(self.cfg), antialias=True)
        return TF.center_crop(image, list(self.cfg.image_size))


class _ClampChannels:
    """Clamp to [0, 1] and match channels, keeping the tv_tensors.Image type for what follows."""

    def __init__(self, cfg: TransformConfig) -> None:
        self.cfg = cfg

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        plain = image.as_subclass(torch.Tensor).clamp(0.0, 1.0)
        return tv_tensors.Image(match_channels(plain, self.cfg))


class Transform:
    """A picklable callable ``PIL image | uint8 tensor (C,H,W) or (H,W) | ndarray (H,W[,C])`` ->
    float tensor (in_chans, H, W); build it with ``build_transform``."""

    def __init__(self, cfg: TransformConfig, train: bool) -> None:
        self.cfg, self.train = cfg, train
        steps: list[Any] = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
        if train and cfg.train_crop == "inception":
            steps.append(
                v2.RandomResizedCrop(
                    cfg.image_size,
                    scale=cfg.crop_scale,
                    ratio=cfg.crop_ratio,
                    interpolation=_interpolation(cfg),
                    antialias=True,
                )
            )
        elif train:
            steps.append(v2.Resize(cfg.image_size, interpolation=_interpolation(cfg), antialias=True))
        else:
            steps.append(_EvalResize(cfg))
        if train and cfg.hflip:
            steps.append(v2.RandomHorizontalFlip())
        steps += [_ClampChannels(cfg), v2.Normalize(mean=list(cfg.mean), std=list(cfg.std))]
        self.pipeline = v2.Compose(steps)

    def __call__(self, image: Any) -> torch.Tensor:
        return self.pipeline(image).as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return f"Transform(train={self.train}, {self.pipeline})"


def build_transform(cfg: TransformConfig, train: bool) -> Transform:
    """The per-image transform: train adds the random crop and flip; random draws use torch's global
    RNG (``make_loader`` seeds it per sample, so augmentations replay exactly on resume)."""
    return Transform(cfg, train)


# -- the batched path ------------------------------------------------------------------------------


@dataclass
class CropParams:
    """Per-image random draws of the training geometry: crop box (pixels) and horizontal flip."""

    top: torch.Tensor
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    flip: torch.Tensor

    def __getitem__(self, index: Any) -> CropParams:
        return CropParams(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))

    def __len__(self) -> int:
        return len(self.top)


def sample_crop_params(
    n: int, height: int, width: int, cfg: TransformConfig, generator: torch.Generator | None = None
) -> CropParams:
    """Draw ``n`` crop boxes for ``height x width`` images the way torchvision's RandomResizedCrop does
    (10 tries of area and log-ratio, else a centre crop of clamped ratio), vectorised; and flips."""
    if cfg.train_crop == "none":
        zeros = torch.zeros(n, dtype=torch.int64)
        box = (zeros, zeros, torch.full((n,), height), torch.full((n,), width))
    else:
        box = _inception_boxes(n, height, width, cfg, generator)
    flip = torch.rand(n, generator=generator) < 0.5
    return CropParams(*box, flip & cfg.hflip)


def _inception_boxes(
    n: int, height: int, width: int, cfg: TransformConfig, generator: torch.Generator | None
) -> tuple[torch.Tensor, ...]:
    area = height * width
    scale = torch.empty(n, 10, dtype=torch.float64).uniform_(*cfg.crop_scale, generator=generator)
    log_lo, log_hi = math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1])
    ratio = torch.exp(torch.empty(n, 10, dtype=torch.float64).uniform_(log_lo, log_hi, generator=generator))
    w = torch.round(torch.sqrt(area * scale * ratio)).long()
    h = torch.round(torch.sqrt(area * scale / ratio)).long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.int().argmax(dim=1, keepdim=True)  # argmax returns the first maximal index
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
    fall_h, fall_w = _fallback_box(height, width, cfg)
    found = ok.any(dim=1)
    h, w = torch.where(found, h, fall_h), torch.where(found, w, fall_w)
    top = (torch.rand(n, generator=generator, dtype=torch.float64) * (height - h + 1)).long()
    left = (torch.rand(n, generator=generator, dtype=torch.float64) * (width - w + 1)).long()
    return top, left, h, w


def _fallback_box(height: int, width: int, cfg: TransformConfig) -> tuple[int, int]:
    in_ratio = width / height
    if in_ratio < cfg.crop_ratio[0]:
        return int(round(width / cfg.crop_ratio[0])), width
    if in_ratio > cfg.crop_ratio[1]:
        return height, int(round(height * cfg.crop_ratio[1]))
    return height, width


def batch_transform(
    images: torch.Tensor,
    cfg: TransformConfig,
    train: bool,
    generator: torch.Generator | None = None,
    *,
    params: CropParams | None = None,
) -> torch.Tensor:
    """Transform a uint8 batch ``(B, H, W)`` or ``(B, H, W, C)`` at once -> float ``(B, in_chans, h, w)``.

    Eval equals ``build_transform(cfg, False)`` per image (to float precision). Train draws
    ``sample_crop_params`` from ``generator`` unless ``params`` are given; crops that upsample (the
    small-image case) are sampled in one ``grid_sample`` call, crops that shrink are resized one by one
    with antialiasing, like the per-image path.
    """
    x = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    x = x.to(torch.float32).mul_(1.0 / 255)
    if train:
        if params is None:
            params = sample_crop_params(x.shape[0], x.shape[2], x.shape[3], cfg, generator)
        x = _resized_crops(x, params, cfg)
    else:
        x = _eval_geometry(x, cfg)
    x = x.clamp(0.0, 1.0)  # bicubic overshoots; the per-image path clamps too
    x = match_channels(x, cfg)
    mean = torch.tensor(cfg.mean, dtype=x.dtype).view(-1, 1, 1)
    std = torch.tensor(cfg.std, dtype=x.dtype).view(-1, 1, 1)
    return x.sub(mean).div_(std)


def _eval_geometry(x: torch.Tensor, cfg: TransformConfig) -> torch.Tensor:
    size = eval_resize_size(x.shape[2], x.shape[3], cfg)
    if size != tuple(x.shape[2:]):
        x = F.interpolate(x, size=size, mode=cfg.interpolation, align_corners=False, antialias=True)
    (h, w), (ch, cw) = size, cfg.image_size
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))  # torchvision's centre
    return x[:, :, top : top + ch, left : left + cw]


def _resized_crops(x: torch.Tensor, p: CropParams, cfg: TransformConfig) -> torch.Tensor:
    out_h, out_w = cfg.image_size
    shrink = (p.height > out_h) | (p.width > out_w)
    if not bool(shrink.any()):
        return _grid_crops(x, p, cfg)
    out = torch.empty(x.shape[0], x.shape[1], out_h, out_w, dtype=x.dtype)
    grow = ~shrink
    if bool(grow.any()):
        out[grow] = _grid_crops(x[grow], p[grow], cfg)
    rows = torch.nonzero(shrink).flatten()
    boxes = torch.stack([rows, p.top[rows], p.left[rows], p.height[rows], p.width[rows], p.flip[rows].long()], 1)
    for i, t, left, h, w, flip in boxes.tolist():  # plain ints: no per-element tensor indexing in the loop
        crop = F.interpolate(
            x[i : i + 1, :, t : t + h, left : left + w],
            size=(out_h, out_w),
            mode=cfg.interpolation,
            align_corners=False,
            antialias=True,
        )
        out[i] = crop[0].flip(-1) if flip else crop[0]
    return out


def _grid_crops(x: torch.Tensor, p: CropParams, cfg: TransformConfig) -> torch.Tensor:
    """Bilinear/bicubic resampling of each crop box (flipped where asked) to ``image_size``, as one
    ``grid_sample`` call. Output pixel centres map linearly onto the box, in grid_sample's [-1, 1]
    coordinates, clamped to the box's outer pixel centres as resizing the cut-out crop would do: so
    bilinear equals crop-then-resize (to float precision); bicubic's outer taps may reach 1-2 pixels
    beyond the box."""
    n, c, height, width = x.shape
    out_h, out_w = cfg.image_size
    gx = _axis_grid(p.left, p.width, width, out_w, x.dtype)
    gx = torch.where(p.flip.view(n, 1), gx.flip(1), gx)
    gy = _axis_grid(p.top, p.height, height, out_h, x.dtype)
    grid = torch.stack((gx.view(n, 1, out_w).expand(n, out_h, out_w), gy.view(n, out_h, 1).expand(n, out_h, out_w)), -1)
    return F.grid_sample(x, grid, mode=cfg.interpolation, padding_mode="border", align_corners=False)


def _axis_grid(start: torch.Tensor, length: torch.Tensor, size: int, out: int, dtype: torch.dtype) -> torch.Tensor:
    """(n, out) normalised sample coordinates along one axis for boxes ``[start, start + length)``."""
    start, length = start.to(dtype).view(-1, 1), length.to(dtype).view(-1, 1)
    centres = (torch.arange(out, dtype=dtype) + 0.5) / out  # output pixel centres in [0, 1]
    pixels = start + centres * length  # in source pixel units, pixel i spanning [i, i + 1)
    pixels = torch.minimum(torch.maximum(pixels, start + 0.5), start + length - 0.5)
    return pixels * (2.0 / size) - 1
