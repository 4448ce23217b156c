"""The Transformer encoder's layers: attention, MLP, pre-norm block (paper eq. 2-3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ViTConfig
from .init import xavier_uniform_chunks_


class DropPath(nn.Module):
    """Stochastic depth: drops a sample's whole residual branch with probability ``rate``."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection.

    The normal path is ``scaled_dot_product_attention`` (fused kernels); the weights are materialised
    only when asked for, for inspection. ``queries=n`` computes the outputs of the first ``n`` tokens
    only (their queries against every key): all that a class-token classifier reads from the last block.
    """

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.dropout = cfg.attention_dropout_rate
        self.qkv = nn.Linear(d, 3 * d, bias=cfg.qkv_bias)
        self.proj = nn.Linear(d, d)
        xavier_uniform_chunks_(self.qkv.weight, 3)
        nn.init.xavier_uniform_(self.proj.weight)
        for bias in (self.qkv.bias, self.proj.bias):
            if bias is not None:
                nn.init.zeros_(bias)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor | None = None,
        need_weights: bool = False,
        queries: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t, d = x.shape
        if queries is None:
            q, k, v = self.qkv(x).view(b, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        else:
            q, k, v = self._project_some(x, queries)
            t = queries
            bias = None if bias is None else bias[..., :queries, :]
        p = self.dropout if self.training else 0.0
        # torch 2.14's ONNX exporter cannot decompose SDPA with a mask (relative position biases)
        if need_weights or (bias is not None and torch.compiler.is_exporting()):
            logits = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)
            if bias is not None:
                logits = logits + bias
            weights = logits.float().softmax(dim=-1).to(q.dtype)
            out = F.dropout(weights, p) @ v
        else:
            weights = None
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        return self.proj(out.transpose(1, 2).reshape(b, t, d)), weights

    def _project_some(self, x: torch.Tensor, queries: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q for the first ``queries`` tokens, k and v for all: the rows of the fused weight, sliced."""
        b, t, d = x.shape
        w, bias = self.qkv.weight, self.qkv.bias
        q = F.linear(x[:, :queries], w[:d], None if bias is None else bias[:d])
        kv = F.linear(x, w[d:], None if bias is None else bias[d:])
        q = q.view(b, queries, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = kv.view(b, t, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v


class Mlp(nn.Module):
    """Dense(mlp_dim) -> GELU -> dropout -> Dense(D) -> dropout."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.mlp_dim)
        self.act = nn.GELU(approximate="tanh" if cfg.gelu == "tanh" else "none")
        self.fc2 = nn.Linear(cfg.mlp_dim, cfg.hidden_size)
        self.drop = nn.Dropout(cfg.dropout_rate)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.normal_(fc.bias, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-LayerNorm encoder block: x + MSA(LN(x)), then x + MLP(LN(x)).

    ``queries=n``: the block's output for the first ``n`` tokens only, (B, n, D) -- the others still serve
    as keys and values; nothing else is computed for them.
    """

    def __init__(self, cfg: ViTConfig, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(cfg)
        self.drop = nn.Dropout(cfg.dropout_rate)
        self.drop_path = DropPath(drop_path)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor | None = None,
        need_weights: bool = False,
        queries: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, weights = self.attn(self.norm1(x), bias, need_weights, queries)
        if queries is not None:
            x = x[:, :queries]
        x = x + self.drop_path(self.drop(y))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, weights
