"""The ``--backend`` option that predict, eval, embed and serve share, and where ``auto``'s notes go."""

from __future__ import annotations

import argparse

from ..use.backend import say

CHOICES = ["auto", "torch", "onnxruntime", "openvino"]
HELP = (
    "auto (default): the backend measured fastest for this file and batch size on this machine (timed for a few "
    "seconds the first time, then remembered under VITKIT_HOME); torch; onnxruntime or openvino (a checkpoint is "
    "exported to ONNX first). .onnx files run in onnxruntime or openvino, .xml files (vitkit quantize) in openvino"
)


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=CHOICES, default="auto", help=HELP)


__all__ = ["CHOICES", "HELP", "add_backend_argument", "say"]
