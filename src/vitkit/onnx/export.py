"""ONNX export: a vitkit model as an ``images -> logits`` (or ``-> embedding``) graph for onnxruntime.

The batch dimension is dynamic, and so is the image size for plain ViTs (any multiple of the patch size:
the position embeddings are resized inside the graph, as the torch model does). The model's config,
class names and transform travel in the file's metadata, so ``vitkit predict model.onnx`` needs nothing
else. ``verify_onnx`` runs the file in onnxruntime against the torch model.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..errors import VitkitError
from ..models.config import ViTConfig
from .runner import META_CLASSES, META_CONFIG, META_HEAD, META_OUTPUT, META_TRANSFORM, OnnxRunner

# "both": logits and the representation y from one pass (the int8 files of ``vitkit quantize``, which
# predict and embed both read)
Output = Literal["logits", "embedding", "both"]
INPUT_NAME = "images"
MAX_BATCH, MAX_GRID = 1 << 16, 1 << 10


class ExportError(VitkitError, RuntimeError):
    """The model cannot be exported as asked, or the exported graph does not match the torch model."""


class _Graph(nn.Module):
    """What the ONNX graph computes: logits, or the image representation y."""

    def __init__(self, model: nn.Module, output: Output) -> None:
        super().__init__()
        self.model, self.output = model, output

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.output == "both":  # every vitkit model's logits are its head applied to y (``forward_head``)
            y = self.model.embed(images)
            return self.model.head(y), y
        return self.model.embed(images) if self.output == "embedding" else self.model(images)


def output_names(output: Output) -> list[str]:
    """The graph's output names: ``logits``, ``embedding``, or both in that order."""
    return ["logits", "embedding"] if output == "both" else [output]


def size_unit(cfg: Any) -> int | None:
    """Image sizes the exported graph accepts are multiples of this; None: only the export size."""
    if isinstance(cfg, ViTConfig) and cfg.resnet is None and cfg.patch_size[0] == cfg.patch_size[1]:
        return cfg.patch_size[0]
    return None


def _dynamic_shapes(cfg: Any, dynamic_batch: bool, dynamic_size: bool) -> dict[str, dict[int, Any]] | None:
    from torch.export import Dim

    dims: dict[int, Any] = {}
    if dynamic_batch:
        dims[0] = Dim("batch", min=1, max=MAX_BATCH)
    if dynamic_size:
        unit = size_unit(cfg)
        if unit is None:
            raise ExportError("dynamic image size: plain ViTs with square patches only (use --static-size)")
        dims[2] = unit * Dim("grid_h", min=1, max=MAX_GRID)
        dims[3] = unit * Dim("grid_w", min=1, max=MAX_GRID)
    return {"images": dims} if dims else None


def metadata(model: nn.Module, output: Output) -> dict[str, str]:
    """The file's metadata: config, class names, transform (JSON strings) and the head's state."""
    from ..models.head import head_state

    meta = {META_CONFIG: json.dumps(model.config.to_dict()), META_OUTPUT: output, META_HEAD: head_state(model)}
    if model.info.classes:
        meta[META_CLASSES] = json.dumps(list(model.info.classes))
    if model.info.transform:
        meta[META_TRANSFORM] = json.dumps(model.info.transform)
    return meta


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    dynamic_batch: bool = True,
    dynamic_size: bool | None = None,
    output: Output = "logits",
    opset: int | None = None,
) -> Path:
    """Write ``model`` (a vitkit ViT or BiT) to ``path`` as ONNX; returns the path.

    ``dynamic_size`` (default: where supported, i.e. plain ViTs) makes height and width free multiples of
    the patch size; otherwise the graph takes the model's ``image_size`` only. Without ``dynamic_batch`` the
    graph takes one image at a time. The model is traced on CPU in float32 eval mode and left as it was.
    """
    cfg = model.config
    if dynamic_size is None:
        dynamic_size = size_unit(cfg) is not None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device, dtype, training = next(model.parameters()).device, next(model.parameters()).dtype, model.training
    graph = _Graph(model.to("cpu", torch.float32).eval(), output)
    # a dynamic batch is traced at 2: torch.export specialises dimensions of size 0 and 1
    example = torch.zeros(2 if dynamic_batch else 1, cfg.in_chans, *cfg.image_size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                (example,),
                dynamo=True,
                verbose=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=output_names(output),
                dynamic_shapes=_dynamic_shapes(cfg, dynamic_batch, dynamic_size),
            )
    finally:
        model.to(device, dtype).train(training)
    program.model.metadata_props.update(metadata(model, output))
    program.save(str(path))
    return path


def _check_sizes(path: Path, cfg: Any) -> list[tuple[int, int]]:
    """The export size, and a larger one when the file's height and width are dynamic."""
    import onnx

    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    sizes = [tuple(cfg.image_size)]
    unit = size_unit(cfg)
    if unit and all(d.dim_param for d in dims[2:]):
        sizes.append((cfg.image_size[0] + 2 * unit, cfg.image_size[1] + unit))
    return sizes


@torch.no_grad()
def verify_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    batch_sizes: tuple[int, ...] = (1, 3),
    image_sizes: list[tuple[int, int]] | None = None,
    atol: float = 1e-4,
    seed: int = 0,
) -> dict[str, float]:
    """Run ``path`` in onnxruntime and ``model`` in torch on the same random images.

    Returns the largest absolute difference per ``"b{batch} {h}x{w}"``; raises ``ExportError`` if one exceeds
    ``atol``. Sizes: the model's, plus a larger one when the file has a dynamic image size.
    """
    path, cfg = Path(path), model.config
    runner = OnnxRunner(path)
    device, dtype, training = next(model.parameters()).device, next(model.parameters()).dtype, model.training
    model.to("cpu", torch.float32).eval()
    gen = torch.Generator().manual_seed(seed)
    diffs: dict[str, float] = {}
    try:
        for h, w in image_sizes or _check_sizes(path, cfg):
            for b in batch_sizes:
                x = torch.randn(b, cfg.in_chans, h, w, generator=gen)
                want = model.embed(x) if runner.output == "embedding" else model(x)
                diffs[f"b{b} {h}x{w}"] = float((runner(x) - want).abs().max())
    finally:
        model.to(device, dtype).train(training)
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    if bad:
        raise ExportError(f"{path}: onnxruntime differs from torch by more than {atol}: {bad}")
    return diffs
