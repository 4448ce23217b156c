"""``vitkit.mkl_amd``, the public name of ``vitkit.runtime.mkl_amd`` (torch's MKL on AMD CPUs; see there).

Library users opt in with ``import vitkit.mkl_amd; vitkit.mkl_amd.enable()`` before importing torch. This
module only re-exports; it imports no torch and reads nothing until ``enable()`` is called.
"""

from .runtime.mkl_amd import ENV, decide, describe, enable, kernels_name, library_path, mkl_cpu_type, status

__all__ = ["ENV", "decide", "describe", "enable", "kernels_name", "library_path", "mkl_cpu_type", "status"]
