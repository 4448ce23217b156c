"""``vitkit quantize``: post-training static int8 quantisation of a checkpoint with NNCF, for OpenVINO.

``split`` divides the data into calibration images and held-out images; ``quantize`` calibrates and
quantises; ``accuracy`` compares the int8 model with the float one on the held-out images, image by image.
The int8 file is an OpenVINO IR (``OUT.xml`` + ``OUT.bin``) carrying vitkit's metadata and both accuracies;
every command that takes a checkpoint takes it (``vitkit.use.backend``).
"""
