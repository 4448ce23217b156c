"""The torch model's mode API for the runtime runners (``OnnxRunner``, ``OpenVinoRunner``), so that code
written for models (``evaluate``: ``was_training = model.training; model.eval() ... model.train(was_training)``)
takes a runner too. A runner is always in eval mode; asking for training is an error."""

from __future__ import annotations

from typing import ClassVar, Self


class InferenceOnly:
    GRAPH: ClassVar[str] = "exported"  # what the error calls the graph: "an ONNX graph runs inference only"
    training = False

    def eval(self) -> Self:
        return self

    def train(self, mode: bool = True) -> Self:
        if mode:
            raise RuntimeError(f"an {self.GRAPH} graph runs inference only")
        return self
