"""``vitkit bench``: vitkit against timm, torchvision and transformers; a table, and JSON with ``--json``."""

from __future__ import annotations

import argparse
import sys

from .types import nonnegative_int, positive_float, positive_int, positive_ints

HELP = "benchmark inference and training speed and memory against timm, torchvision and transformers"


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..bench.cases import DEFAULT_LIBRARIES

    p.add_argument(
        "--models",
        type=_names,
        default=["Ti/16", "S/16", "B/16", "demo"],
        help="comma-separated: Ti/16, S/16, B/16 (224 px), demo (the demo's 28 px ViT), "
        "p4/32 (4 px patches on 32 px, 192 wide, 6 layers), tiny",
    )
    p.add_argument("--batch", type=positive_ints, default=[1, 16], help="inference batch sizes (default 1,16)")
    p.add_argument(
        "--train-batch",
        type=positive_int,
        default=None,
        help="training-step batch (default: 16 for Ti/S/B, 64 for demo, 128 for p4/32)",
    )
    p.add_argument("--no-train", action="store_true", help="inference only")
    p.add_argument("--no-infer", action="store_true", help="training steps only")
    p.add_argument(
        "--libraries",
        type=_names,
        default=list(DEFAULT_LIBRARIES),
        help="comma-separated; also vitkit-compiled, vitkit-onnxruntime, vitkit-openvino, vitkit-int8 (OpenVINO "
        "int8, NNCF on random images: speed only)",
    )
    p.add_argument("--repeats", type=positive_int, default=5, help="alternating rounds per case (default 5)")
    p.add_argument("--warmup", type=nonnegative_int, default=2, help="untimed steps per library before the rounds")
    p.add_argument("--min-sample", type=positive_float, default=1.0, help="seconds each timed sample lasts at least")
    p.add_argument(
        "--compile",
        dest="compile",
        action="store_true",
        default=None,
        help="torch.compile vitkit (default: for torch inference, where it pays, not for training)",
    )
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnxruntime", "openvino"],
        default="auto",
        help="vitkit's inference backend (auto: the one measured fastest for the model and batch on this machine)",
    )
    p.add_argument(
        "--backends",
        metavar="CKPT",
        default=None,
        help="instead: time this checkpoint (or .onnx / int8 .xml file) on every installed backend at each --batch, "
        "print the table and remember the winners for --backend auto",
    )
    p.add_argument(
        "--seconds",
        type=positive_float,
        default=6.0,
        help="with --backends: seconds of timing per batch size (default 6)",
    )
    p.add_argument(
        "--threads", type=positive_int, default=None, help="intra-op threads (default: torch's, one per core)"
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: autocast (CUDA)")
    p.add_argument("--no-memory", action="store_true", help="skip peak-memory measurement")
    p.add_argument("--no-pipeline", action="store_true", help="skip the input-pipeline measurement")
    p.add_argument(
        "--peers-same-process",
        action="store_true",
        help="run timm/torchvision/transformers in this process, on the GEMM kernels vitkit set up "
        "(default: where vitkit's MKL-on-AMD library is loaded, they run in a separate process "
        "without it, as their users run them)",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="also write the full result as JSON")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run in seconds: the tiny model, 1 round, short samples, a small matmul, no memory, no pipeline",
    )


def run(args: argparse.Namespace) -> int:
    from ..bench.cases import make_cases
    from ..bench.report import format_table, write_json
    from ..bench.run import run_bench
    from ..bench.workload import Options

    if args.backends:
        return _backends(args)
    matmul_n = 2048
    if args.quick:
        args.models, args.batch, args.repeats, args.warmup, args.min_sample = ["tiny"], [1], 1, 1, 0.05
        args.no_memory = args.no_pipeline = True
        matmul_n = 512
    try:
        cases = make_cases(args.models, args.batch, args.train_batch, train=not args.no_train, infer=not args.no_infer)
    except ValueError as e:
        print(f"vitkit bench: error: {e}", file=sys.stderr)
        return 2
    opts = Options(
        compile=args.compile, backend=args.backend, device=args.device, precision=args.precision, threads=args.threads
    )
    result = run_bench(
        cases,
        args.libraries,
        args.repeats,
        options=opts,
        warmup=args.warmup,
        min_sample_s=args.min_sample,
        memory=not args.no_memory,
        pipeline=not args.no_pipeline,
        matmul_n=matmul_n,
        peers_apart=not args.peers_same_process,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(format_table(result))
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    return 0


def _backends(args: argparse.Namespace) -> int:
    from ..bench.backends import format_backends, measure_backends
    from ..runtime import accel

    accel.set_threads(args.threads)
    batches = args.batch if args.batch else [1, 16]
    print(format_backends(args.backends, measure_backends(args.backends, batches, seconds=args.seconds), batches))
    return 0
