"""Data sets, image decoding, transforms and loaders.

``open_dataset(spec)`` resolves a data spec (a class-per-folder directory, a .csv/.jsonl manifest,
WebDataset tar shards, or a built-in name: ``fashion-mnist``, ``mnist-5k``, ``digits``, each with
``:train``/``:test``); ``make_loader`` turns a data set and a ``TransformConfig`` into batches.
Every failure is a ``DataError`` with a one-line message.
"""

from vitkit.data.arrays import ArrayDataset
from vitkit.data.base import LabeledDataset
from vitkit.data.builtin import BUILTIN, SPLITS
from vitkit.data.decode import IMAGE_EXTENSIONS, decode_image, get_max_image_pixels, load_image, set_max_image_pixels
from vitkit.data.errors import DataError
from vitkit.data.folder import ImageFolderDataset
from vitkit.data.loader import Loader, make_loader, rank_batches
from vitkit.data.manifest import ManifestDataset
from vitkit.data.shards import expand_braces
from vitkit.data.spec import open_dataset
from vitkit.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VIT_MEAN,
    VIT_STD,
    CropParams,
    Transform,
    TransformConfig,
    batch_transform,
    build_transform,
    sample_crop_params,
)
from vitkit.data.webdataset import WebDataset

__all__ = [
    "ArrayDataset",
    "BUILTIN",
    "CropParams",
    "DataError",
    "IMAGE_EXTENSIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageFolderDataset",
    "LabeledDataset",
    "Loader",
    "ManifestDataset",
    "SPLITS",
    "Transform",
    "TransformConfig",
    "VIT_MEAN",
    "VIT_STD",
    "WebDataset",
    "batch_transform",
    "build_transform",
    "decode_image",
    "expand_braces",
    "get_max_image_pixels",
    "load_image",
    "make_loader",
    "open_dataset",
    "rank_batches",
    "sample_crop_params",
    "set_max_image_pixels",
]
