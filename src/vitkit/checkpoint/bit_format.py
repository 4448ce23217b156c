"""BiT classifiers (the paper's ResNet baselines): the official BiT ``.npz`` and timm ``resnetv2_*_bit`` <-> vitkit.

Official (google-research/big_transfer, the layout its loaders read)::

    resnet/root_block/standardized_conv2d/kernel          HWIO
    resnet/block{i}/unit{j:02d}/{a,b,c}/standardized_conv2d/kernel, .../{a,b,c}/group_norm/{gamma,beta}
    resnet/block{i}/unit{j:02d}/a/proj/standardized_conv2d/kernel
    resnet/group_norm/{gamma,beta}        resnet/head/conv2d/{kernel (1,1,C,N), bias}

timm: ``stem.conv``, ``stages.{i}.blocks.{j}.{norm,conv}{1,2,3}``, ``.downsample.conv``, ``norm``, ``head.fc``
(a 1x1 conv). vitkit: ``body.conv_root``, ``body.stages.{i}.units.{j}.{gn,conv}{1,2,3}``, ``.conv_proj``,
``body.norm``, ``head`` (linear). Unit ``a``/``b``/``c`` is the 1st/2nd/3rd (GroupNorm, conv) pair.
Both sources use GroupNorm eps 1e-5 and (near) eps-free weight standardisation, so that is what is read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..models.config import BiTConfig, ResNetConfig
from .errors import CheckpointError
from .resnet_names import timm_body_to_vitkit, vitkit_body_to_timm

NPZ_ROOT = "resnet/root_block/standardized_conv2d/kernel"
_LETTER = {"a": "1", "b": "2", "c": "3"}


def looks_like_npz(params: dict[str, np.ndarray]) -> bool:
    return NPZ_ROOT in params


def looks_like_timm(sd: dict[str, torch.Tensor]) -> bool:
    return "stem.conv.weight" in sd and any(k.startswith("stages.0.blocks.0.") for k in sd)


def _config(units: dict[int, int], width: int, num_classes: int, path: Path) -> BiTConfig:
    try:
        resnet = ResNetConfig(
            tuple(units[i] for i in sorted(units)), width / 64, unit="pre_act", padding="fixed", gn_eps=1e-5, ws_eps=0.0
        )
        return BiTConfig(resnet=resnet, num_classes=num_classes, name=path.name)
    except ConfigError as e:
        raise CheckpointError(path, f"not a BiT ResNet vitkit can build ({e})") from None


def npz_config(params: dict[str, np.ndarray], path: Path) -> BiTConfig:
    """The BiTConfig of an official BiT ``.npz`` (units per stage, width, classes from the arrays)."""
    units: dict[int, int] = {}
    for key in params:
        if m := re.match(r"resnet/block(\d+)/unit(\d+)/", key):
            units[int(m[1])] = max(units.get(int(m[1]), 0), int(m[2]))
    head = params.get("resnet/head/conv2d/kernel")
    if head is not None and head.ndim != 4:
        raise CheckpointError(path, f"resnet/head/conv2d/kernel has shape {head.shape}, expected (1, 1, C, classes)")
    return _config(units, params[NPZ_ROOT].shape[-1], 0 if head is None else head.shape[-1], path)


def timm_config(sd: dict[str, torch.Tensor], path: Path) -> BiTConfig:
    """The BiTConfig of a timm ``ResNetV2`` BiT state dict; a post-activation (hybrid-style) stem is refused."""
    if "stem.norm.weight" in sd:
        raise CheckpointError(path, "timm ResNetV2 with a stem norm (post-activation) is not a BiT classifier")
    units: dict[int, int] = {}
    for key in sd:
        if m := re.match(r"stages\.(\d+)\.blocks\.(\d+)\.", key):
            units[int(m[1])] = max(units.get(int(m[1]), 0), int(m[2]) + 1)
    head = sd.get("head.fc.weight")
    return _config(
        {i + 1: n for i, n in units.items()},
        sd["stem.conv.weight"].shape[0],
        0 if head is None else head.shape[0],
        path,
    )


# --- names -------------------------------------------------------------------------------------


def _npz_unit_name(rest: str) -> str:
    """``a/group_norm/gamma`` -> ``gn1.weight``; ``b/standardized_conv2d/kernel`` -> ``conv2.weight``."""
    if rest == "a/proj/standardized_conv2d/kernel":
        return "conv_proj.weight"
    letter, layer, leaf = rest.split("/")
    kind = {"group_norm": "gn", "standardized_conv2d": "conv"}[layer]
    return f"{kind}{_LETTER[letter]}.{ {'gamma': 'weight', 'beta': 'bias', 'kernel': 'weight'}[leaf] }"


def npz_to_state_dict(params: dict[str, np.ndarray], cfg: BiTConfig) -> dict[str, torch.Tensor]:
    """vitkit state dict from official BiT arrays (HWIO -> OIHW; every array used once)."""
    out: dict[str, np.ndarray] = {}
    for key, value in params.items():
        if key == NPZ_ROOT:
            name = "body.conv_root.weight"
        elif key in ("resnet/group_norm/gamma", "resnet/group_norm/beta"):
            name = "body.norm." + ("weight" if key.endswith("gamma") else "bias")
        elif key == "resnet/head/conv2d/kernel":
            out["head.weight"] = value.reshape(value.shape[-2], value.shape[-1]).T
            continue
        elif key == "resnet/head/conv2d/bias":
            name = "head.bias"
        elif m := re.fullmatch(r"resnet/block(\d+)/unit(\d+)/(.+)", key):
            try:
                name = f"body.stages.{int(m[1]) - 1}.units.{int(m[2]) - 1}.{_npz_unit_name(m[3])}"
            except (KeyError, ValueError):
                raise ValueError(f"unexpected array {key!r} in a BiT checkpoint") from None
        else:
            raise ValueError(f"unexpected array {key!r} in a BiT checkpoint")
        out[name] = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value.reshape(-1)
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}


def timm_to_state_dict(sd: dict[str, torch.Tensor], cfg: BiTConfig) -> dict[str, torch.Tensor]:
    """vitkit state dict from timm ``ResNetV2`` names (the head's 1x1 conv becomes a linear layer)."""
    out = {}
    for key, value in sd.items():
        if key == "head.fc.weight":
            out["head.weight"] = value.reshape(value.shape[0], -1)
        elif key == "head.fc.bias":
            out["head.bias"] = value
        else:
            out["body." + timm_body_to_vitkit(key)] = value
    return out


# --- writers -----------------------------------------------------------------------------------


def check_writable(cfg: BiTConfig, fmt: str, dst: Path) -> None:
    """BiT's own code and timm only have pre-activation units with symmetric padding."""
    if cfg.resnet.unit != "pre_act":
        raise CheckpointError(dst, f"--to {fmt}: resnet.unit={cfg.resnet.unit!r} is not BiT's (pre_act)")
    if cfg.resnet.padding != "fixed":
        raise CheckpointError(dst, f"--to {fmt}: resnet.padding={cfg.resnet.padding!r} is not BiT's (fixed)")


def to_timm(sd: dict[str, torch.Tensor], cfg: BiTConfig) -> dict[str, torch.Tensor]:
    """timm ``resnetv2_*_bit`` state dict of a vitkit BiT state dict (inverse of ``timm_to_state_dict``)."""
    out = {}
    for key, value in sd.items():
        if key == "head.weight":
            out["head.fc.weight"] = value.reshape(*value.shape, 1, 1)
        elif key == "head.bias":
            out["head.fc.bias"] = value
        else:
            out[vitkit_body_to_timm(key.removeprefix("body."))] = value
    return out


def to_npz(sd: dict[str, torch.Tensor], cfg: BiTConfig) -> dict[str, np.ndarray]:
    """Official BiT arrays of a vitkit BiT state dict (inverse of ``npz_to_state_dict``)."""
    letter = {v: k for k, v in _LETTER.items()}
    out = {}
    for key, tensor in sd.items():
        value = tensor.detach().cpu().float().numpy()
        if key == "head.weight":
            out["resnet/head/conv2d/kernel"] = value.T.reshape(1, 1, *value.T.shape)
            continue
        if key == "head.bias":
            out["resnet/head/conv2d/bias"] = value
            continue
        if key == "body.conv_root.weight":
            name = NPZ_ROOT
        elif key.startswith("body.norm."):
            name = "resnet/group_norm/" + ("gamma" if key.endswith("weight") else "beta")
        else:
            m = re.fullmatch(r"body\.stages\.(\d+)\.units\.(\d+)\.(\w+?)(\d?)\.(weight|bias)", key)
            unit = f"resnet/block{int(m[1]) + 1}/unit{int(m[2]) + 1:02d}/"
            if m[3] == "conv_proj":
                name = unit + "a/proj/standardized_conv2d/kernel"
            elif m[3] == "conv":
                name = unit + f"{letter[m[4]]}/standardized_conv2d/kernel"
            else:
                name = unit + f"{letter[m[4]]}/group_norm/" + ("gamma" if m[5] == "weight" else "beta")
        out[name] = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value
    return {k: np.ascontiguousarray(v) for k, v in out.items()}
