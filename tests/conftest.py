import os
from pathlib import Path

import pytest

import vitkit  # noqa: F401 -- before torch, as the vitkit command runs (vitkit/blas.py: MKL on AMD CPUs)
import torch

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "official"

# OMP_NUM_THREADS wins (e.g. 1 when other jobs share the machine); otherwise at most 2 threads
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "manifest.json").is_file():
        pytest.skip(f"official fixtures not found at {FIXTURES}")
    return FIXTURES
