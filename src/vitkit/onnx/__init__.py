"""A model outside torch: ONNX export (``export.py``), onnxruntime running the file (``runner.py``, which owns
the file's metadata keys), and OpenVINO running it or its int8 IR from ``vitkit quantize`` (``openvino.py``)."""
