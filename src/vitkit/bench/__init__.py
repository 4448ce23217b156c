"""``vitkit bench``: vitkit against timm, torchvision and transformers on the same ViT shapes.

``run_bench(make_cases(["Ti/16"], [1, 16]))`` times inference and training steps in alternating rounds,
measures peak memory (a fresh process per measurement), achieved GFLOP/s against the machine's fp32
matmul peak, and the input pipeline; ``format_table`` and ``write_json`` report it.
"""

from .cases import SHAPES, Case, Shape, get_shape, make_cases
from .report import format_table, summary, write_json
from .run import DEFAULT_LIBRARIES, run_bench
from .workload import Options

__all__ = [
    "DEFAULT_LIBRARIES",
    "SHAPES",
    "Case",
    "Options",
    "Shape",
    "format_table",
    "get_shape",
    "make_cases",
    "run_bench",
    "summary",
    "write_json",
]
