"""tests/test_int8.py in a process of its own (NNCF's quantisation state must not reach the other tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_int8_in_its_own_process() -> None:
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    here = Path(__file__).with_name("test_int8.py")
    env = {**os.environ, "VITKIT_TEST_CHILD": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(here)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-2000:]
