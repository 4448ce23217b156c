"""The inference runtimes: which backend runs which file (a checkpoint, an ONNX file, an OpenVINO file), whether
it is installed, and a model loaded on exactly one of them. ``use.backend`` chooses among them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError

if TYPE_CHECKING:  # the CLI's --backend option imports say() from here before torch: no torch at import
    from ..models.info import ImageModel
    from ..models.resnet import BiTResNet
    from ..models.vit import VisionTransformer

Backend = Literal["auto", "torch", "onnxruntime", "openvino"]
BACKENDS = ("torch", "onnxruntime", "openvino")
Output = Literal["logits", "embedding"]
FileKind = Literal["checkpoint", "onnx", "openvino"]
Say = Callable[[str], None]


def say(line: str) -> None:
    """A note for the user (auto's measurement, a backend skipped): stderr, so stdout stays the result."""
    print(line, file=sys.stderr, flush=True)


# which backends run which file
RUNS: dict[str, tuple[str, ...]] = {
    "checkpoint": BACKENDS,
    "onnx": ("onnxruntime", "openvino"),
    "openvino": ("openvino",),
}
_KIND_NAME = {"onnx": "an ONNX file", "openvino": "an OpenVINO file"}


def file_kind(path: str | os.PathLike[str]) -> FileKind:
    """``onnx`` for ``.onnx`` files, ``openvino`` for IR ``.xml`` files (``vitkit quantize``), else a checkpoint."""
    suffix = Path(path).suffix.lower()
    return "onnx" if suffix == ".onnx" else "openvino" if suffix == ".xml" else "checkpoint"


def backend_name(model: ImageModel) -> str:
    """Which backend runs ``model``: a runner says so (``backend``), a torch model is ``torch``."""
    return getattr(model, "backend", "torch")


def installed(backend: str) -> bool:
    if backend == "onnxruntime":
        from ..onnx.runner import onnxruntime_available

        return onnxruntime_available()
    if backend == "openvino":
        from ..onnx.openvino import openvino_available

        return openvino_available()
    return True


def load_backend(path: str | os.PathLike[str], backend: str, device: str | None, output: Output) -> ImageModel:
    """``path`` on exactly ``backend`` (no choosing): raises a one-line ``VitkitError`` where it cannot run."""
    from ..checkpoint import load
    from ..models.head import require_classifier
    from ..runtime.device import pick_device

    kind = file_kind(path)
    if backend not in RUNS[kind]:
        runs = " or ".join(RUNS[kind])
        raise ConfigError(f"--backend {backend}: {path} is {_KIND_NAME[kind]}, which runs with {runs} only")
    model: Any  # a torch model, an OnnxRunner or an OpenVinoRunner: each an ImageModel
    if backend == "torch":
        model = load(path, device=pick_device(device))
    elif backend == "onnxruntime":
        from ..onnx.runner import OnnxRunner

        if kind == "onnx":
            model = OnnxRunner(path)
        else:
            with _exported(path, output, backend) as onnx_path:  # the session keeps the graph in memory
                model = OnnxRunner(onnx_path)
    else:
        from ..onnx.openvino import OpenVinoRunner, convert_onnx, require_openvino

        require_openvino()
        if kind != "checkpoint":
            model = OpenVinoRunner(path)
        else:
            with _exported(path, output, backend) as onnx_path:  # the converted model holds its weights
                model = OpenVinoRunner(convert_onnx(onnx_path), path=path)
    if backend != "torch":
        computes = model.computes(output) if hasattr(model, "computes") else model.output == output
        if not computes:
            raise ConfigError(f"{path} computes {model.output}, not {output} (vitkit export --output {output})")
    if output == "logits":
        require_classifier(model, os.fspath(path))
    return model


def _exported(path: str | os.PathLike[str], output: Output, backend: str) -> Any:
    """A context giving the checkpoint's ONNX graph: kept from an earlier call, or exported now
    (``onnx.export_cache``)."""
    from ..checkpoint import load
    from ..onnx.export_cache import exported

    return exported(path, output, lambda dest: _export(load(path), dest, output, backend))


def _export(model: VisionTransformer | BiTResNet, dest: Path, output: Output, backend: str) -> Path:
    """``model`` exported for ``backend``; a model the exporter cannot take is one line naming the option."""
    from ..errors import VitkitError
    from ..onnx.export import export_onnx

    if output == "logits":  # refused before exporting: seconds saved, and the message the torch path gives
        from ..models.head import require_classifier

        require_classifier(model, model.info.source or str(dest))
    try:
        return export_onnx(model, dest, output=output)
    except VitkitError:
        raise
    except Exception as e:  # noqa: BLE001 -- torch.export's many error types: one line for the user
        reason = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise ConfigError(f"--backend {backend}: this model cannot be exported to ONNX ({reason})") from None
