"""Position information (paper §3.1, appendix D.4): every kind of the ablation, resizable to any grid.

Additive embeddings hold ``num_sets`` sets: one for placement ``stem`` and ``every_layer_shared``, one per
layer for ``every_layer``. Each module's ``forward(x, grid, index)`` returns ``x`` plus set ``index`` laid
out for ``grid`` (rows, cols); prefix tokens (the class token) come first in ``x``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ResizeMode = Literal["bilinear", "bicubic"]


def unchanged(old: tuple[int, ...] | torch.Size, new: tuple[int, ...] | torch.Size) -> bool:
    """Whether a resize from ``old`` to ``new`` can be skipped.

    Never while exporting: there the sizes may be symbolic (an ONNX graph with a dynamic image size), and
    the resize must stay in the graph. It costs nothing in value: an align_corners=True resize to the same
    size is the identity.
    """
    return not torch.compiler.is_exporting() and tuple(old) == tuple(new)


def resize_grid(grid: torch.Tensor, new: tuple[int, int], mode: ResizeMode = "bilinear") -> torch.Tensor:
    """Resize a (S, h, w, D) grid of embeddings to (S, *new, D).

    ``bilinear`` uses align_corners=True: corner embeddings stay at the corners, which is exactly the
    official fine-tuning resize (``scipy.ndimage.zoom(order=1)``).
    """
    if unchanged(grid.shape[1:3], new):
        return grid
    x = grid.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=new, mode=mode, align_corners=True)
    return x.permute(0, 2, 3, 1).to(grid.dtype)


def resize_tokens(
    emb: torch.Tensor, old: tuple[int, int], new: tuple[int, int], prefix: int, mode: ResizeMode = "bilinear"
) -> torch.Tensor:
    """Resize (S, prefix + h*w, D) token embeddings; the prefix (class-token) rows are kept as they are."""
    if unchanged(old, new):
        return emb
    head, body = emb[:, :prefix], emb[:, prefix:]
    body = resize_grid(body.reshape(emb.shape[0], *old, -1), new, mode).flatten(1, 2)
    return torch.cat([head, body], dim=1)


class LearnedPosEmb1D(nn.Module):
    """Standard learnable embeddings, one per token in raster order (the paper's default)."""

    def __init__(self, num_sets: int, grid: tuple[int, int], prefix: int, dim: int) -> None:
        super().__init__()
        self.grid, self.prefix = tuple(grid), prefix
        self.weight = nn.Parameter(torch.empty(num_sets, prefix + grid[0] * grid[1], dim))
        nn.init.normal_(self.weight, std=0.02)

    def embedding(self, grid: tuple[int, int], index: int = 0) -> torch.Tensor:
        return resize_tokens(self.weight[index : index + 1], self.grid, grid, self.prefix)

    def forward(self, x: torch.Tensor, grid: tuple[int, int], index: int = 0) -> torch.Tensor:
        return x + self.embedding(grid, index)

    @torch.no_grad()
    def resize_(self, grid: tuple[int, int], mode: ResizeMode = "bilinear") -> None:
        """Make ``grid`` the stored grid (fine-tuning at a new resolution, paper §3.2)."""
        self.weight = nn.Parameter(resize_tokens(self.weight.data, self.grid, grid, self.prefix, mode))
        self.grid = tuple(grid)


class LearnedPosEmb2D(nn.Module):
    """Two sets of D/2-wide embeddings, one per row and one per column, concatenated (appendix D.4)."""

    def __init__(self, num_sets: int, grid: tuple[int, int], prefix: int, dim: int) -> None:
        super().__init__()
        self.grid, self.prefix = tuple(grid), prefix
        self.row = nn.Parameter(torch.empty(num_sets, grid[0], dim // 2))
        self.col = nn.Parameter(torch.empty(num_sets, grid[1], dim // 2))
        self.cls = nn.Parameter(torch.empty(num_sets, prefix, dim)) if prefix else None
        for p in self.parameters():
            nn.init.normal_(p, std=0.02)

    @staticmethod
    def _resize_axis(axis: torch.Tensor, n: int) -> torch.Tensor:
        if unchanged(axis.shape[1:2], (n,)):
            return axis
        return (
            F.interpolate(axis.transpose(1, 2).float(), size=n, mode="linear", align_corners=True)
            .transpose(1, 2)
            .to(axis.dtype)
        )

    def embedding(self, grid: tuple[int, int], index: int = 0) -> torch.Tensor:
        row = self._resize_axis(self.row[index : index + 1], grid[0])
        col = self._resize_axis(self.col[index : index + 1], grid[1])
        h, w = grid
        emb = torch.cat([row[:, :, None].expand(-1, h, w, -1), col[:, None].expand(-1, h, w, -1)], dim=-1)
        emb = emb.reshape(1, h * w, -1)
        if self.cls is not None:
            emb = torch.cat([self.cls[index : index + 1], emb], dim=1)
        return emb

    def forward(self, x: torch.Tensor, grid: tuple[int, int], index: int = 0) -> torch.Tensor:
        return x + self.embedding(grid, index)

    @torch.no_grad()
    def resize_(self, grid: tuple[int, int], mode: ResizeMode = "bilinear") -> None:
        # 1D tables: linear along each axis whatever the mode
        self.row = nn.Parameter(self._resize_axis(self.row.data, grid[0]))
        self.col = nn.Parameter(self._resize_axis(self.col.data, grid[1]))
        self.grid = tuple(grid)


def sincos_2d(grid: tuple[int, int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2D sine-cosine embeddings (h*w, dim): a quarter of the channels each for sin/cos of x and y."""
    h, w = grid
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    x = xs.reshape(-1, 1) * omega
    y = ys.reshape(-1, 1) * omega
    return torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1)


class SinCosPosEmb2D(nn.Module):
    """Fixed sin-cos embeddings computed for whatever grid comes in (prefix tokens get zeros)."""

    def __init__(self, num_sets: int, grid: tuple[int, int], prefix: int, dim: int) -> None:
        super().__init__()
        self.prefix, self.dim, self._grid = prefix, dim, tuple(grid)
        self.register_buffer("cache", self._make(self._grid), persistent=False)

    def _make(self, grid: tuple[int, int]) -> torch.Tensor:
        emb = sincos_2d(grid, self.dim)
        return torch.cat([emb.new_zeros(self.prefix, self.dim), emb])[None]

    def embedding(self, grid: tuple[int, int], index: int = 0) -> torch.Tensor:
        if torch.compiler.is_exporting():  # a symbolic grid: computed in the graph, never cached
            return self._make(grid).to(self.cache.device)
        if tuple(grid) != self._grid:
            self._grid = tuple(grid)
            self.cache = self._make(self._grid).to(self.cache.device)
        return self.cache

    def forward(self, x: torch.Tensor, grid: tuple[int, int], index: int = 0) -> torch.Tensor:
        return x + self.embedding(grid, index).to(x.dtype)

    def resize_(self, grid: tuple[int, int], mode: ResizeMode = "bilinear") -> None:
        self.embedding(grid)


class RelativePositionBias(nn.Module):
    """A learned attention bias per head indexed by the 2D offset between two patches.

    The class token has three extra learned biases per head (class->patch, patch->class, class->class),
    since it has no position. A new grid resizes the offset table bilinearly.
    """

    def __init__(self, grid: tuple[int, int], prefix: int, num_heads: int) -> None:
        super().__init__()
        self.grid, self.prefix = tuple(grid), prefix
        self.table = nn.Parameter(torch.zeros(num_heads, 2 * grid[0] - 1, 2 * grid[1] - 1))
        self.prefix_bias = nn.Parameter(torch.zeros(num_heads, 3)) if prefix else None
        nn.init.trunc_normal_(self.table, std=0.02)

    def _table(self, grid: tuple[int, int], mode: ResizeMode = "bilinear") -> torch.Tensor:
        size = (2 * grid[0] - 1, 2 * grid[1] - 1)
        if unchanged(self.table.shape[1:], size):
            return self.table
        return F.interpolate(self.table[None], size=size, mode=mode, align_corners=True)[0]

    @torch.no_grad()
    def resize_(self, grid: tuple[int, int], mode: ResizeMode = "bilinear") -> None:
        self.table = nn.Parameter(self._table(grid, mode).data)
        self.grid = tuple(grid)

    def forward(self, grid: tuple[int, int]) -> torch.Tensor:
        """The additive attention bias (1, heads, T, T) for ``grid``."""
        h, w = grid
        table = self._table(grid)
        ys, xs = torch.meshgrid(
            torch.arange(h, device=table.device), torch.arange(w, device=table.device), indexing="ij"
        )
        ys, xs = ys.reshape(-1), xs.reshape(-1)
        dy = ys[:, None] - ys[None, :] + h - 1
        dx = xs[:, None] - xs[None, :] + w - 1
        bias = table[:, dy, dx]
        if self.prefix_bias is not None:
            heads, n = bias.shape[0], h * w
            full = bias.new_empty(heads, n + 1, n + 1)
            full[:, 1:, 1:] = bias
            full[:, 0, 1:] = self.prefix_bias[:, 0:1]
            full[:, 1:, 0] = self.prefix_bias[:, 1:2]
            full[:, 0, 0] = self.prefix_bias[:, 2]
            bias = full
        return bias[None]


ADDITIVE = {"learned_1d": LearnedPosEmb1D, "learned_2d": LearnedPosEmb2D, "sincos_2d": SinCosPosEmb2D}


def num_sets(posemb_at: str, num_layers: int) -> int:
    return num_layers if posemb_at == "every_layer" else 1
