"""The one compiled piece, ``vitkit/_mkl_amd.c`` (torch's MKL on AMD CPUs; see ``vitkit/mkl_amd.py``).

Optional: where no C compiler is at hand vitkit installs without it and runs with MKL as it ships.
Everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("vitkit._mkl_amd", sources=["src/vitkit/_mkl_amd.c"], optional=True)])
