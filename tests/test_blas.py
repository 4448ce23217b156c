"""vitkit/blas.py: torch's MKL kernels on AMD CPUs -- when the library is loaded, that MKL then runs its
instruction-set kernels, and that results stay what they were."""

import json
import os
import platform
import subprocess
import sys

import pytest

from vitkit import blas

ZEN2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx fma bmi1 avx2 bmi2\n\nprocessor\t: 1\n"
INTEL = ZEN2.replace("AuthenticAMD", "GenuineIntel")


def test_decide_loads_only_on_amd_cpus_with_the_kernels_instructions():
    assert blas.decide(ZEN2, "Linux", "x86_64", None)[0]
    assert blas.decide(ZEN2.replace("AuthenticAMD", "HygonGenuine"), "Linux", "x86_64", "")[0]
    ok, why = blas.decide(INTEL, "Linux", "x86_64", None)
    assert not ok and "GenuineIntel" in why
    ok, why = blas.decide(ZEN2.replace(" avx2", ""), "Linux", "x86_64", None)
    assert not ok and "avx2" in why
    ok, why = blas.decide(ZEN2, "Darwin", "arm64", None)
    assert not ok and "Darwin" in why
    for off in ("0", "off", "OFF"):
        ok, why = blas.decide(ZEN2, "Linux", "x86_64", off)
        assert not ok and blas.ENV in why


def _probe(code: str, **env: str) -> dict:
    """Run ``code`` (which ends by printing JSON) in a fresh interpreter, as a user's program would."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, **env}, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


MATMUL = """
import json, torch
import vitkit.blas as b
g = torch.Generator().manual_seed(0)
a, w = torch.randn(197, 192, generator=g), torch.randn(576, 192, generator=g)
y = torch.nn.functional.linear(a, w)
ref = a.double() @ w.double().T
print(json.dumps({**b.status(), "err": float(((y.double() - ref).abs().max() / ref.abs().max())),
                  "y": y[:3, :3].flatten().tolist()}))
"""


@pytest.mark.skipif(
    not blas.decide(blas._cpuinfo(), platform.system(), platform.machine(), None)[0],
    reason="not an AMD CPU with AVX2/FMA: the library is not for this machine",
)
def test_on_this_amd_cpu_mkl_runs_its_instruction_set_kernels_with_the_same_results():
    if blas.library_path() is None:
        pytest.fail("vitkit/_mkl_amd*.so was not built: `pip install -e .` compiles it (needs a C compiler)")
    fast = _probe("import vitkit\n" + MATMUL)
    stock = _probe("import vitkit\n" + MATMUL, **{blas.ENV: "0"})
    late = _probe("import torch\nimport vitkit\n" + MATMUL)
    assert fast["loaded"] and fast["mkl_cpu_type"] > 0, fast
    assert not stock["loaded"] and stock["mkl_cpu_type"] == 0, stock
    assert not late["loaded"] and "imported before vitkit" in late["reason"] and late["mkl_cpu_type"] == 0
    assert fast["err"] < 1e-6 and stock["err"] < 1e-6
    assert fast["y"] == pytest.approx(stock["y"], rel=1e-5, abs=1e-5)


def test_describe_names_the_kernels_and_why():
    line = blas.describe()
    assert ("MKL" in line or "without MKL" in line) and blas.status()["reason"] in line
