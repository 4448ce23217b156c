"""The one compiled piece, ``vitkit/runtime/_mkl_amd.c`` (torch's MKL on AMD CPUs; see ``vitkit/runtime/mkl_amd.py``).

Optional: where no C compiler is at hand vitkit installs without it and runs with MKL as it ships.
Everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("vitkit.runtime._mkl_amd", sources=["src/vitkit/runtime/_mkl_amd.c"], optional=True)])
