"""The model behind the server: loading, the checkpoint's transform, and the three batched computations.

Everything here reuses the library: ``vitkit.use.backend.load_for_inference`` (torch, onnxruntime or openvino),
``transform_for`` + ``build_transform`` (the eval transform ``vitkit predict`` applies),
``model.embed`` (what ``vitkit embed`` computes) and ``vitkit.inspect.rollout``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..data import build_transform
from ..data.transforms import eval_resize_size
from ..inspect.attention_distance import iter_attention
from ..inspect.rollout import attention_rollout, upsample_maps
from ..models.transform import transform_for
from ..models.vit import VisionTransformer
from ..use.backend import Backend, load_for_inference
from ..use.predict import model_device
from .errors import RequestError


class Engine:
    """A loaded checkpoint: ``runner`` computes logits (torch, onnxruntime or openvino); ``model`` is the torch
    model for embeddings and attention (None when serving a bare ``.onnx`` or ``.xml`` file); ``embedder``
    computes embeddings (the torch model, or a graph that outputs them: the int8 files of ``vitkit quantize``)."""

    def __init__(
        self,
        checkpoint: str | os.PathLike[str],
        backend: Backend = "auto",
        device: str | None = None,
        max_batch: int = 16,
        say: Any = None,
    ):
        from ..checkpoint import load
        from ..runtime.device import pick_device
        from ..use.backend import backend_name, file_kind

        self.checkpoint = str(checkpoint)
        self.runner = load_for_inference(checkpoint, backend=backend, device=device, batch_size=max_batch, say=say)
        if isinstance(self.runner, nn.Module):
            self.model: nn.Module | None = self.runner
        elif file_kind(checkpoint) == "checkpoint":
            self.model = load(checkpoint, device=pick_device(device))
        else:
            self.model = None
        if self.model is not None:
            self.model.eval()
        computes = getattr(self.runner, "computes", None)
        self.embedder: Any = self.model or (self.runner if computes and computes("embedding") else None)
        self.backend = backend_name(self.runner)
        self.config = self.runner.config
        self.classes = list(self.runner.info.classes or [])
        self.transform_config = transform_for(self.runner)
        self.transform = build_transform(self.transform_config, train=False)

    # ------------------------------------------------------------------ per image (decode thread pool)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """An RGB image -> the model's input (C, H, W), exactly as ``vitkit predict`` transforms it."""
        return self.transform(image)

    def view_box(self, width: int, height: int) -> dict[str, float]:
        """The part of a ``width x height`` image the model sees after the eval resize and centre crop,
        as fractions of the image (the page draws that part under the attention map)."""
        rh, rw = eval_resize_size(height, width, self.transform_config)
        ch, cw = self.transform_config.image_size
        return {"top": (rh - ch) / 2 / rh, "left": (rw - cw) / 2 / rw, "height": ch / rh, "width": cw / rw}

    # ---------------------------------------------------------------------- batched (model executor)

    @torch.inference_mode()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, num_classes), as ``vitkit.use.predict.predict_images`` computes them."""
        return self.runner(x.to(model_device(self.runner))).float().softmax(-1).cpu()

    @torch.inference_mode()
    def embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """The image representation (B, D), as ``vitkit embed`` computes it."""
        if self.embedder is None:
            raise RequestError(501, f"{self.checkpoint}: embeddings need a checkpoint, not a logits-only graph")
        return self.embedder.embed(x.to(model_device(self.embedder))).float().cpu()

    def rollout_layers(self, x: torch.Tensor) -> list[np.ndarray]:
        """Per image, attention rollout through layers 1..l for every l: ``(L, gh, gw)``, each map in [0, 1]."""
        if not isinstance(self.model, VisionTransformer):
            raise RequestError(
                501, f"{self.checkpoint}: attention rollout needs a ViT checkpoint (not a BiT ResNet nor an ONNX graph)"
            )
        prefix = self.model.config.num_prefix_tokens
        out = []
        for attentions, grid in iter_attention(self.model, x, batch_size=len(x), what="attention"):
            layers = [
                attention_rollout(attentions[:n], prefix).reshape(-1, *grid) for n in range(1, len(attentions) + 1)
            ]
            per_layer = np.stack([upsample_maps(m, tuple(grid)) for m in layers], axis=1)  # min-max to [0, 1]
            out += list(per_layer)
        return out

    # ------------------------------------------------------------------------------------- metadata

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/model`` reports about the model."""
        return {
            "checkpoint": self.checkpoint,
            "backend": self.backend,
            "config": self.config.to_dict(),
            "architecture": type(self.config).__name__,
            "name": self.runner.info.name,  # the truthful model name (ModelInfo)
            "classes": self.classes,
            "num_classes": int(self.config.num_classes),
            "embed_dim": int(self.config.embed_dim),
            "transform": self.transform_config.to_dict(),
            "attention": isinstance(self.model, VisionTransformer),
            "embeddings": self.embedder is not None,
            "precision": getattr(self.runner, "precision", "fp32"),
            "quantization": self.runner.info.extra.get("quantization"),
        }

    def warm_up(self, max_batch: int) -> None:
        """One pass of every computation at batch 1 and at ``max_batch`` (first calls allocate and pick kernels)."""
        c = self.transform_config.in_chans
        for b in sorted({1, max_batch}):
            x = torch.zeros(b, c, *self.transform_config.image_size)
            self.probabilities(x)
            if self.embedder is not None:
                self.embeddings(x)
        if isinstance(self.model, VisionTransformer):
            self.rollout_layers(torch.zeros(1, c, *self.transform_config.image_size))
