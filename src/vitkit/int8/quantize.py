"""Post-training static int8 quantisation with NNCF on OpenVINO, accepted only with its accuracy measured.

Why NNCF on OpenVINO rather than onnxruntime's quantiser: on this project's 2-core Sapphire Rapids machine
(AVX-512 VNNI, AMX), ViT-S/16 at batch 1 ran 110 images/s quantised by NNCF in OpenVINO against 51 quantised
by ``onnxruntime.quantization.quantize_static`` (QDQ, per-channel s8 weights, u8 activations) in onnxruntime,
from 33 and 30 in fp32 (one short run; ``docs/deploy.md``). NNCF's ``ModelType.TRANSFORMER`` also does what a
ViT needs: SmoothQuant (moves activation outliers into the weights before the ranges are fitted) and keeps
softmax -> matmul in float; LayerNorm and GELU are not quantised (only the inputs of matmuls are), and the
head's matmul is left in float here (``ignored_scope``): it is a sliver of the compute and all of the decision.

The model is exported with both outputs (logits and the representation), converted in memory, calibrated on
``samples`` images, and compared with the float graph on held-out images (``split``, ``accuracy``). A drop over
``max_drop`` points is refused and nothing is written; otherwise ``OUT.xml`` + ``OUT.bin`` are written (weights
not compressed to fp16: the file is the model that was measured), the accuracies in its metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import DataError, make_loader
from ..errors import ConfigError, VitkitError
from ..onnx.openvino import (
    INSTALL_HINT,
    META_PRECISION,
    META_QUANTIZATION,
    OpenVinoRunner,
    convert_onnx,
    get_metadata,
    require_openvino,
    set_metadata,
)
from ..runtime.versions import package_version
from .accuracy import Comparison, compare, predictions
from .split import open_split

Say = Callable[[str], None]


class QuantizeError(VitkitError):
    """The int8 model lost more accuracy than allowed (nothing was written)."""


@dataclass
class QuantizeResult:
    path: Path
    comparison: Comparison
    record: dict[str, Any]
    size_bytes: int
    seconds: float


def require_nncf() -> Any:
    try:
        import nncf
    except ImportError:
        raise ConfigError(f"vitkit quantize needs NNCF and OpenVINO: {INSTALL_HINT}") from None
    return nncf


def weights_path(xml: str | os.PathLike[str]) -> Path:
    """An IR's weights file: ``OUT.bin`` beside ``OUT.xml``."""
    return Path(xml).with_suffix(".bin")


def head_matmul(model: Any) -> str | None:
    """The name of the matmul that computes the logits (walking back from the ``logits`` output), or None."""
    try:
        node = model.output("logits").get_node()
    except RuntimeError:
        return None
    for _ in range(8):  # Result <- (Add bias) <- MatMul, with a Convert or Reshape at most in between
        if node.get_type_name() == "MatMul":
            return node.get_friendly_name()
        if node.get_input_size() == 0:
            return None
        node = node.input_value(0).get_node()
    return None


def _check_data(model: Any, split: Any, spec: str, batch: Any) -> None:
    cfg = model.config
    if cfg.num_classes != len(split.heldout.classes):
        raise DataError(
            f"--calibrate {spec}: {len(split.heldout.classes)} classes, the checkpoint predicts {cfg.num_classes}"
        )
    # images of another size are resized by the checkpoint's transform, as vitkit eval does (the demo's
    # MNIST-5k models take its 28 px digits at 56 px)
    want = (cfg.in_chans, *cfg.image_size)
    if tuple(batch.shape[1:]) != want:
        got = "x".join(map(str, batch.shape[1:]))
        raise DataError(f"--calibrate {spec}: images come out {got} after the transform, the model takes {want}")


def quantize_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    data: str,
    *,
    samples: int = 300,
    heldout: int | None = None,
    max_drop: float = 0.5,
    seed: int = 0,
    batch_size: int = 32,
    threads: int | None = None,
    say: Say | None = None,
) -> QuantizeResult:
    """Quantise ``checkpoint`` to int8 calibrated on ``data``; write ``out`` (``.xml``) if the held-out top-1
    drops by at most ``max_drop`` percentage points (see the module docstring)."""
    from ..checkpoint import load
    from ..models.head import require_classifier
    from ..models.transform import transform_for
    from ..onnx.export import export_onnx

    say = say or (lambda _: None)
    start = time.perf_counter()
    out = Path(out)
    if out.suffix.lower() != ".xml":
        raise ConfigError(f"OUT {out}: expected a path ending in .xml (an OpenVINO IR; its weights go beside it)")
    if not max_drop >= 0:
        raise ConfigError(f"--max-drop {max_drop}: expected percentage points >= 0")
    ov, nncf = require_openvino(), require_nncf()
    model = load(checkpoint)
    require_classifier(model, os.fspath(checkpoint))
    split = open_split(data, samples, heldout, seed)
    transform = transform_for(model)
    calib_loader = make_loader(split.calibration, transform, batch_size, train=False)
    held_loader = make_loader(split.heldout, transform, batch_size, train=False)
    calib = [images.numpy() for images, _ in calib_loader]
    _check_data(model, split, data, calib[0])
    items = [image[None] for batch in calib for image in batch]  # one image per item: subset_size counts images
    with tempfile.TemporaryDirectory(prefix="vitkit-quantize-") as tmp:
        float_model = convert_onnx(export_onnx(model, Path(tmp) / "model.onnx", output="both"))
    meta = get_metadata(float_model)
    float_runner = OpenVinoRunner(float_model, threads=threads, path=checkpoint)
    head = head_matmul(float_model)
    say(f"calibrating on {len(items)} images of {data} (NNCF, transformer preset; head {head or '?'} kept in float)")
    int8_model = nncf.quantize(
        float_model,
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
        ignored_scope=nncf.IgnoredScope(names=[head]) if head else None,
    )
    set_metadata(int8_model, {**meta, META_PRECISION: "int8"})
    int8_runner = OpenVinoRunner(int8_model, threads=threads, path=out)
    say(f"measuring top-1 on {len(split.heldout)} held-out images, float and int8 ...")
    float_pred, labels = predictions(float_runner, held_loader)
    int8_pred, labels8 = predictions(int8_runner, held_loader)
    assert np.array_equal(labels, labels8)
    comparison = compare(float_pred, int8_pred, labels)
    say(comparison.line())
    if comparison.drop > max_drop:
        raise QuantizeError(
            f"--max-drop {max_drop:g}: int8 top-1 {comparison.top1_int8:.2f}% is {comparison.drop:.2f} points below "
            f"float {comparison.top1_float:.2f}% on {comparison.images} held-out images; nothing written"
        )
    record = {
        **comparison.to_dict(),
        "method": "nncf.quantize (OpenVINO), ModelType.TRANSFORMER, head in float",
        "data": data,
        "calibration_images": len(items),
        "heldout_images": comparison.images,
        "split_seed": seed,
        "data_images": split.total,
        "max_drop": max_drop,
        "checkpoint": os.fspath(checkpoint),
        "versions": {n: package_version(n) for n in ("nncf", "openvino", "torch", "vitkit")},
    }
    set_metadata(int8_model, {META_QUANTIZATION: json.dumps(record)})
    _save(ov, int8_model, out)
    size = out.stat().st_size + weights_path(out).stat().st_size
    return QuantizeResult(out, comparison, record, size, time.perf_counter() - start)


def _save(ov: Any, model: Any, out: Path) -> None:
    """Write ``out`` and its ``.bin`` into a folder beside it, then move them in (weights first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        ov.save_model(model, str(tmp / out.name), compress_to_fp16=False)
        os.replace(tmp / weights_path(out).name, weights_path(out))
        os.replace(tmp / out.name, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
