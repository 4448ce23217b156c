"""torch's MKL on AMD CPUs: the kernels MKL keeps for Intel CPUs, where the CPU runs them.

torch's x86-64 Linux wheels do their float32 matmuls with Intel MKL, linked in statically. MKL chooses its
kernels once, at its first call: on an Intel CPU by instruction set (AVX2, AVX-512); on any other vendor's
CPU it asks ``mkl_serv_intel_cpu_true()``, gets no, and runs generic kernels. On this project's AMD EPYC
(Zen 2, AVX2 + FMA) those run the ViT's linear shapes at 137-151 GFLOP/s; its AVX2 kernels run the same
shapes at 185-205 (2 threads, fp32), and a ViT-Ti/16 training step 1.24x faster.

vitkit ships a one-line C library (``_mkl_amd.c``) whose ``mkl_serv_intel_cpu_true`` says yes. ``enable()``
loads it into the global symbol scope before torch is imported: torch's MKL then binds to it and picks its
kernels by the instruction sets the CPU reports (cpuid), which is exactly what it does on an Intel CPU.

It changes the whole process (every MKL call, vitkit's or not, and so float rounding), so it is explicit:

- the ``vitkit`` command (and ``python -m vitkit``, ``torchrun -m vitkit``) calls ``enable()`` first,
  before anything imports torch -- it controls its own process; ``VITKIT_MKL_AMD=0`` (or ``off``) opts out;
- ``import vitkit`` does nothing of the kind (it neither reads /proc nor loads a library);
- a library user opts in before importing torch::

      import vitkit.mkl_amd
      vitkit.mkl_amd.enable()
      import torch

  or, for a program that imports torch first, preloads it:
  ``LD_PRELOAD=$(python -c "import vitkit.mkl_amd as m; print(m.library_path())") python prog.py``.

``enable()`` loads it only where those kernels' instructions are present:

- Linux, x86-64, an AMD (or Hygon) CPU whose flags include avx2, fma, bmi1 and bmi2;
- the library was compiled at install (it is optional: no C compiler, no library);
- torch is not yet imported: MKL binds at torch's load, and chooses at its first call;
- ``VITKIT_MKL_AMD`` is not ``0``/``off`` (the opt-out).

``status()`` reports what happened and which kernels MKL runs (``vitkit bench`` prints it).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
from pathlib import Path
from typing import Any

ENV = "VITKIT_MKL_AMD"
NEEDED_FLAGS = ("avx2", "fma", "bmi1", "bmi2")
AMD_VENDORS = ("AuthenticAMD", "HygonGenuine")

_reason = "not attempted"
_loaded = False


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def decide(cpuinfo: str, system: str, machine: str, env: str | None) -> tuple[bool, str]:
    """Whether to load the library on this machine, and why (or why not); pure, for testing."""
    if (env or "").strip().lower() in ("0", "off", "false", "no"):
        return False, f"off ({ENV}={env})"
    if system != "Linux" or machine not in ("x86_64", "AMD64"):
        return False, f"not Linux x86-64 ({system} {machine})"
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():  # the first processor's block is enough: all cores are alike here
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    vendor = fields.get("vendor_id", "unknown")
    if vendor not in AMD_VENDORS:
        return False, f"{vendor} CPU (MKL picks its kernels by instruction set there already)"
    missing = [f for f in NEEDED_FLAGS if f not in fields.get("flags", "").split()]
    if missing:
        return False, f"{vendor} CPU without {', '.join(missing)}"
    return True, f"{vendor} CPU with {', '.join(NEEDED_FLAGS)}"


def library_path() -> Path | None:
    """The compiled library, or None where it was not built."""
    here = Path(__file__).parent
    found = sorted(here.glob("_mkl_amd*.so"))
    return found[0] if found else None


def enable() -> bool:
    """Load the library if this machine wants it and torch is not loaded yet; True if it is loaded.

    The ``vitkit`` command calls it before anything imports torch; library users may (see the module's
    docstring). Calling it again does nothing new.
    """
    global _reason, _loaded
    if _loaded:
        return True
    ok, why = decide(_cpuinfo(), platform.system(), platform.machine(), os.environ.get(ENV))
    if not ok:
        _reason = why
        return False
    if "torch" in sys.modules:
        _reason = "torch was imported before enable() (MKL had bound already)"
        return False
    path = library_path()
    if path is None:
        _reason = "library not built (no C compiler at install)"
        return False
    try:
        ctypes.CDLL(str(path), mode=os.RTLD_GLOBAL)
    except OSError as e:
        _reason = f"library failed to load: {e}"
        return False
    _loaded, _reason = True, why
    return True


@functools.cache
def mkl_cpu_type() -> int | None:
    """The kernel family torch's MKL runs (0: generic kernels; higher: by instruction set, e.g. 5 for
    AVX2), or None where torch does not use MKL. Makes MKL choose, if it has not yet (once per process:
    so is this answer)."""
    import torch

    if not torch.backends.mkl.is_available():
        return None
    lib_dir = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        if (lib_dir / name).exists():
            try:
                return int(ctypes.CDLL(str(lib_dir / name)).mkl_serv_get_cpu_type())
            except (OSError, AttributeError):
                return None
    return None


def status() -> dict[str, Any]:
    """``{"loaded": bool, "reason": str, "mkl_cpu_type": int | None}``."""
    return {"loaded": _loaded, "reason": _reason, "mkl_cpu_type": mkl_cpu_type()}


def kernels_name(cpu_type: int | None) -> str:
    """``mkl_cpu_type()``'s answer in words (for this process's or another's)."""
    return {None: "torch without MKL", 0: "MKL generic kernels"}.get(cpu_type, f"MKL kernels type {cpu_type}")


def describe() -> str:
    """One line for the bench header."""
    s = status()
    loaded = "loaded" if s["loaded"] else "not loaded"
    return f"{kernels_name(s['mkl_cpu_type'])}; vitkit's MKL-on-AMD library {loaded}: {s['reason']}"
