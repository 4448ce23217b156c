import os
from pathlib import Path

import pytest

import vitkit.mkl_amd

# before torch: the suite runs on the kernels the vitkit command uses (vitkit/mkl_amd.py: MKL on AMD CPUs)
vitkit.mkl_amd.enable()

import torch  # noqa: E402 -- after enable(), on purpose

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "official"

# OMP_NUM_THREADS wins (e.g. 1 when other jobs share the machine); otherwise at most 2 threads
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The official code's reference outputs; missing is a skip locally, a failure in CI (CI=true)."""
    if not (FIXTURES / "manifest.json").is_file():
        message = f"official fixtures not found at {FIXTURES}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: the conformance tests must run in CI)")
        pytest.skip(message)
    return FIXTURES
