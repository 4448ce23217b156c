"""``vitkit bench-serve``: requests/s and p50/p99 latency of ``vitkit serve`` against offline inference."""

from __future__ import annotations

import argparse
import json

from .types import nonnegative_float, positive_float, positive_int, positive_ints

HELP = "benchmark `vitkit serve` (1-64 concurrent loopback clients) against offline batched inference"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models", default="demo,Ti/16", help="comma-separated shapes of `vitkit bench` (default demo,Ti/16)"
    )
    p.add_argument(
        "--clients", type=positive_ints, default=[1, 8, 32, 64], help="concurrent clients (default 1,8,32,64)"
    )
    p.add_argument("--duration", type=positive_float, default=5.0, help="seconds per load level (default 5)")
    p.add_argument(
        "--max-requests", type=positive_int, default=5000, help="requests per load level at most (default 5000)"
    )
    p.add_argument("--max-batch", type=positive_int, default=32, help="the server's --max-batch and the offline batch")
    p.add_argument("--max-delay-ms", type=nonnegative_float, default=5.0, help="the server's --max-delay-ms")
    p.add_argument(
        "--backend", choices=["auto", "torch", "onnxruntime", "openvino"], default="auto", help="the server's backend"
    )
    p.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")


def run(args: argparse.Namespace) -> int:
    from ..bench.cases import get_shape
    from ..errors import ConfigError
    from ..serve.bench import bench_model, format_result

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in models:
        try:
            get_shape(name)
        except ValueError as e:
            raise ConfigError(f"--models: {e}") from None
    if not args.duration > 0 or args.max_requests < 1 or args.max_batch < 1:
        raise ConfigError("--duration, --max-requests and --max-batch: expected positive values")
    server_args = ["--max-delay-ms", str(args.max_delay_ms), "--backend", args.backend]
    results = []
    for name in models:
        result = bench_model(name, args.clients, args.duration, args.max_requests, args.max_batch, server_args)
        print(format_result(result), flush=True)
        results.append(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0
