import os
import tempfile
from pathlib import Path

import pytest

import vitkit.mkl_amd

# before torch: the suite runs on the kernels the vitkit command uses (vitkit/runtime/mkl_amd.py: MKL on AMD)
vitkit.mkl_amd.enable()

import torch  # noqa: E402 -- after enable(), on purpose

from hub_server import BucketServer  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "official"

# --backend auto picks checkpoints' backends by timing them (vitkit.use.autobackend): the suite keeps the fixed
# rule instead (fast, and no cache file under the user's home); the tests of measuring unset it
os.environ.setdefault("VITKIT_AUTO_BACKEND", "static")
# vitkit's cache (auto's measurements, exported graphs) in a folder of this session, not the user's home
os.environ.setdefault("VITKIT_HOME", tempfile.mkdtemp(prefix="vitkit-tests-home-"))

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


@pytest.fixture
def bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The local bucket, with vitkit's cache, registry and Hugging Face settings pointed at test folders."""
    with BucketServer() as b:
        monkeypatch.setenv("VITKIT_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("VITKIT_HUB_URL", b.url)
        monkeypatch.setenv("VITKIT_REGISTRY", str(tmp_path / "registry.json"))
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
        monkeypatch.setenv("HF_ENDPOINT", b.url)  # any Hugging Face request stays on 127.0.0.1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # a proxy set for the machine must not see the tests
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        for var in ("VITKIT_OFFLINE", "HF_HUB_OFFLINE", "VITKIT_NO_PROGRESS"):
            monkeypatch.delenv(var, raising=False)
        b.registry = tmp_path / "registry.json"
        b.home = tmp_path / "home"
        yield b
