"""vitkit/runtime/mkl_amd.py (public name: vitkit.mkl_amd): torch's MKL kernels on AMD CPUs -- when the library
is loaded (the vitkit command, or a library user's explicit ``enable()``; never ``import vitkit``), MKL runs its
instruction-set kernels, and results stay what they were."""

import json
import os
import platform
import subprocess
import sys
from unittest import mock

import pytest

from vitkit.runtime import mkl_amd

ZEN2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx fma bmi1 avx2 bmi2\n\nprocessor\t: 1\n"
INTEL = ZEN2.replace("AuthenticAMD", "GenuineIntel")


def test_decide_loads_only_on_amd_cpus_with_the_kernels_instructions():
    assert mkl_amd.decide(ZEN2, "Linux", "x86_64", None)[0]
    assert mkl_amd.decide(ZEN2.replace("AuthenticAMD", "HygonGenuine"), "Linux", "x86_64", "")[0]
    ok, why = mkl_amd.decide(INTEL, "Linux", "x86_64", None)
    assert not ok and "GenuineIntel" in why
    ok, why = mkl_amd.decide(ZEN2.replace(" avx2", ""), "Linux", "x86_64", None)
    assert not ok and "avx2" in why
    ok, why = mkl_amd.decide(ZEN2, "Darwin", "arm64", None)
    assert not ok and "Darwin" in why
    for off in ("0", "off", "OFF"):
        ok, why = mkl_amd.decide(ZEN2, "Linux", "x86_64", off)
        assert not ok and mkl_amd.ENV in why


def _probe(code: str, **env: str) -> dict:
    """Run ``code`` (which ends by printing JSON) in a fresh interpreter, as a user's program would."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, **env}, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


MATMUL = """
import json, torch
import vitkit.mkl_amd as b
g = torch.Generator().manual_seed(0)
a, w = torch.randn(197, 192, generator=g), torch.randn(576, 192, generator=g)
y = torch.nn.functional.linear(a, w)
ref = a.double() @ w.double().T
print(json.dumps({**b.status(), "err": float(((y.double() - ref).abs().max() / ref.abs().max())),
                  "y": y[:3, :3].flatten().tolist()}))
"""


@pytest.mark.skipif(
    not mkl_amd.decide(mkl_amd._cpuinfo(), platform.system(), platform.machine(), None)[0],
    reason="not an AMD CPU with AVX2/FMA: the library is not for this machine",
)
def test_on_this_amd_cpu_mkl_runs_its_instruction_set_kernels_with_the_same_results():
    if mkl_amd.library_path() is None:
        pytest.fail("vitkit/runtime/_mkl_amd*.so was not built: `pip install -e .` compiles it (needs a C compiler)")
    enable = "import vitkit.mkl_amd as m\nm.enable()\n"
    fast = _probe(enable + MATMUL)
    stock = _probe(enable + MATMUL, **{mkl_amd.ENV: "0"})
    late = _probe("import torch\n" + enable + MATMUL)
    plain = _probe("import vitkit\n" + MATMUL)  # a library user who did not opt in
    assert fast["loaded"] and fast["mkl_cpu_type"] > 0, fast
    assert not stock["loaded"] and stock["mkl_cpu_type"] == 0, stock
    assert not late["loaded"] and "imported before enable()" in late["reason"] and late["mkl_cpu_type"] == 0
    assert not plain["loaded"] and plain["reason"] == "not attempted" and plain["mkl_cpu_type"] == 0, plain
    assert fast["err"] < 1e-6 and stock["err"] < 1e-6
    assert fast["y"] == pytest.approx(stock["y"], rel=1e-5, abs=1e-5)


@pytest.mark.skipif(
    not mkl_amd.decide(mkl_amd._cpuinfo(), platform.system(), platform.machine(), None)[0],
    reason="not an AMD CPU with AVX2/FMA: the library is not for this machine",
)
def test_the_vitkit_command_runs_avx2_kernels_and_plain_import_vitkit_the_generic_ones():
    """MKL's AVX2 kernels (type 5) or wider ones in a process started by the CLI entry (an AMD CPU with AVX-512,
    Zen 4: type 12); the generic ones (0) after ``import vitkit; import torch``."""
    if mkl_amd.library_path() is None:
        pytest.fail("vitkit/runtime/_mkl_amd*.so was not built: `pip install -e .` compiles it (needs a C compiler)")
    env = {k: v for k, v in os.environ.items() if k != mkl_amd.ENV}
    # the CLI entry as `vitkit` and `python -m vitkit` run it: main() first, the subcommand then imports torch
    via_cli = (
        "import json, vitkit.cli.main as cli\n"
        "code = cli.main(['info', '/nonexistent/model.npz'])\n"  # every subcommand module (and torch) imported
        "import vitkit.mkl_amd as b\nprint(json.dumps({**b.status(), 'code': code}))\n"
    )
    out = subprocess.run([sys.executable, "-c", via_cli], capture_output=True, text=True, timeout=300, env=env)
    cli = json.loads(out.stdout.strip().splitlines()[-1])
    plain = _probe("import json, vitkit, torch\nimport vitkit.mkl_amd as b\nprint(json.dumps(b.status()))", **env)
    assert cli["code"] == 2 and cli["loaded"] and cli["mkl_cpu_type"] >= 5, cli
    assert not plain["loaded"] and plain["mkl_cpu_type"] == 0, plain


def test_import_vitkit_is_cheap_and_changes_nothing_process_wide():
    """A fresh ``import vitkit`` imports no torch, reads no /proc file and loads no library; names resolve lazily."""
    code = """
import json, sys, builtins
opened = []
real_open = builtins.open
builtins.open = lambda f, *a, **k: (opened.append(str(f)), real_open(f, *a, **k))[1]
import vitkit
builtins.open = real_open
mapped = open("/proc/self/maps").read() if sys.platform == "linux" else ""
loaded = [m for m in ("vitkit.mkl_amd", "vitkit.runtime.mkl_amd") if m in sys.modules]
before = {"torch": "torch" in sys.modules, "mkl_amd": bool(loaded),
          "library": "_mkl_amd" in mapped, "proc": [f for f in opened if f.startswith("/proc")]}
vitkit.ViTConfig, vitkit.load  # public names still there, imported on first use
print(json.dumps({**before, "after_torch": "torch" in sys.modules, "all": sorted(vitkit.__all__)}))
"""
    out = _probe(code)
    assert out["torch"] is False and out["mkl_amd"] is False and out["library"] is False and out["proc"] == []
    assert out["after_torch"] is True
    assert {"ViTConfig", "load", "save", "create_model", "VitkitError", "ModelInfo"} <= set(out["all"])


def test_the_public_name_is_the_runtime_module():
    """``vitkit.mkl_amd`` (what library users and the README import) re-exports ``vitkit.runtime.mkl_amd``."""
    import vitkit.mkl_amd as public

    for name in public.__all__:
        assert getattr(public, name) is getattr(mkl_amd, name), name
    assert {"enable", "status", "library_path", "describe"} <= set(public.__all__)


def test_describe_names_the_kernels_and_why():
    """The bench header's line, for each kernel family and both outcomes of ``enable()``."""
    cases = [
        ({"loaded": True, "reason": "AuthenticAMD CPU with avx2", "mkl_cpu_type": 5}, "MKL kernels type 5"),
        ({"loaded": False, "reason": "off (VITKIT_MKL_AMD=0)", "mkl_cpu_type": 0}, "MKL generic kernels"),
        ({"loaded": False, "reason": "not Linux x86-64 (Darwin arm64)", "mkl_cpu_type": None}, "torch without MKL"),
    ]
    for status, kernels in cases:
        with mock.patch.object(mkl_amd, "status", return_value=status):
            line = mkl_amd.describe()
        loaded = "loaded" if status["loaded"] else "not loaded"
        assert line == f"{kernels}; vitkit's MKL-on-AMD library {loaded}: {status['reason']}", line


def test_the_cli_entry_enables_before_anything_imports_torch():
    """On any machine: ``vitkit.cli.main`` and its parser import no torch, and ``main`` calls ``enable()``
    while torch is still unloaded (so that where the library applies, MKL binds to it)."""
    code = """
import json, sys
import vitkit.cli.main as cli
import vitkit.runtime.mkl_amd as m
seen = {"after_import": "torch" in sys.modules}
cli.build_parser()  # every subcommand's arguments: cheap, and no torch (vitkit --help, vitkit pretrained)
seen["after_parser"] = "torch" in sys.modules
real = m.enable
def spy():
    seen["torch_at_enable"] = "torch" in sys.modules
    return real()
m.enable = spy
code = cli.main(["info", "/nonexistent/model.npz"])
print(json.dumps({**seen, "code": code, "torch_after": "torch" in sys.modules}))
"""
    out = _probe(code)
    want = {"after_import": False, "after_parser": False, "torch_at_enable": False, "code": 2, "torch_after": True}
    assert out == want, out
