"""Where and how fast vitkit runs: the device (``device.py``), threads, ``torch.compile`` and autocast
(``accel.py``), and MKL's instruction-set kernels on AMD CPUs (``mkl_amd.py`` with its C library ``_mkl_amd.c``).

Importing this package imports no torch: ``vitkit.runtime.mkl_amd`` must load before torch does.
"""
