"""``vitkit serve CKPT``: an HTTP inference server with dynamic batching and a web page (vitkit/serve/)."""

from __future__ import annotations

import argparse
import sys

from .backend_arg import add_backend_argument
from .types import nonnegative_float, port, positive_float, positive_int

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
    p.add_argument("--port", type=port, default=8000)
    p.add_argument("--max-batch", type=positive_int, default=32, help="images per forward pass at most (default 32)")
    p.add_argument(
        "--max-delay-ms",
        type=nonnegative_float,
        default=5.0,
        help="how long a batch waits for more images while more are on their way (default 5)",
    )
    p.add_argument(
        "--neighbors",
        metavar="EMB",
        default=None,
        help="an embeddings file or folder (`vitkit embed`) or an index folder (`vitkit index`, loaded as built):"
        " enables /v1/neighbors and thumbnails",
    )
    add_backend_argument(p)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--max-upload-mb",
        type=positive_float,
        default=d.max_upload_bytes / 2**20,
        help=f"request body limit in MiB (default {d.max_upload_bytes / 2**20:g})",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=d.max_pixels,
        help=f"width x height limit per image, refused before decoding (default {d.max_pixels})",
    )
    p.add_argument(
        "--max-files", type=positive_int, default=d.max_files, help=f"images per request (default {d.max_files})"
    )
    p.add_argument(
        "--request-timeout",
        type=positive_float,
        default=d.request_timeout_s,
        help=f"seconds a request may take before a 503 (default {d.request_timeout_s:g})",
    )
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument(
        "--api-key-file",
        default=None,
        help="a file holding a shared secret that /v1/* requests must send as 'Authorization: Bearer KEY' "
        "(default: $VITKIT_API_KEY; none: open)",
    )


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("vitkit serve needs FastAPI and uvicorn: pip install 'vitkit[serve]'") from None
    from ..serve.app import ServeOptions
    from ..serve.auth import is_loopback, load_api_key
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
    api_key = load_api_key(args.api_key_file)
    if api_key is None and not is_loopback(args.host):
        print(
            f"vitkit serve: warning: listening on {args.host} without an API key: anyone who can reach it can use it"
            " (--api-key-file or VITKIT_API_KEY)",
            file=sys.stderr,
        )
    options = ServeOptions(max_batch=args.max_batch, max_delay_ms=args.max_delay_ms, limits=limits, api_key=api_key)
    run_server(
        ServerSpec(
            args.checkpoint, args.host, args.port, args.backend, args.device, args.neighbors, args.access_log, options
        )
    )
    return 0
