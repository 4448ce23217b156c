"""``vitkit serve CKPT``: an HTTP inference server with dynamic batching and a web page (vitkit/serve/)."""

from __future__ import annotations

import argparse

from .backend_arg import add_backend_argument

HELP = "serve a checkpoint over HTTP: predict, embed, neighbours, attention rollout, and a web page at /"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..serve.limits import Limits

    d = Limits()
    p.add_argument(
        "checkpoint",
        help="any checkpoint or run folder, an .onnx file from `vitkit export`, or an int8 .xml file from "
        "`vitkit quantize`",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch", type=int, default=32, help="images per forward pass at most (default 32)")
    p.add_argument(
        "--max-delay-ms",
        type=float,
        default=5.0,
        help="how long a batch waits for more images while more are on their way (default 5)",
    )
    p.add_argument(
        "--neighbors",
        metavar="EMB.npz",
        default=None,
        help="an embeddings file from `vitkit embed`: enables /v1/neighbors and thumbnails",
    )
    add_backend_argument(p)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=d.max_upload_bytes / 2**20,
        help=f"request body limit in MiB (default {d.max_upload_bytes / 2**20:g})",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=d.max_pixels,
        help=f"width x height limit per image, refused before decoding (default {d.max_pixels})",
    )
    p.add_argument("--max-files", type=int, default=d.max_files, help=f"images per request (default {d.max_files})")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=d.request_timeout_s,
        help=f"seconds a request may take before a 503 (default {d.request_timeout_s:g})",
    )
    p.add_argument("--access-log", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("vitkit serve needs FastAPI and uvicorn: pip install 'vitkit[serve]'") from None
    from ..serve.app import ServeOptions
    from ..serve.limits import Limits
    from ..serve.server import ServerSpec, run_server

    for name in ("max_batch", "max_files", "max_pixels"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(args, name)}")
    for name in ("max_delay_ms", "max_upload_mb", "request_timeout"):
        if not getattr(args, name) > 0 and not (name == "max_delay_ms" and args.max_delay_ms == 0):
            raise ConfigError(f"--{name.replace('_', '-')}: expected a positive number, got {getattr(args, name)}")
    limits = Limits(
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=args.max_pixels,
        max_files=args.max_files,
        request_timeout_s=args.request_timeout,
    )
    options = ServeOptions(max_batch=args.max_batch, max_delay_ms=args.max_delay_ms, limits=limits)
    run_server(
        ServerSpec(
            args.checkpoint, args.host, args.port, args.backend, args.device, args.neighbors, args.access_log, options
        )
    )
    return 0
