"""``vitkit`` entry point: parses the subcommand and turns library errors into one-line messages.

This module imports nothing heavy at its top: ``main`` enables MKL's fast kernels on AMD CPUs
(``vitkit.runtime.mkl_amd``) before the subcommand modules import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from ..errors import VitkitError
from ..runtime import mkl_amd

# subcommand -> module under vitkit.cli (each has ``add_arguments(parser)``, ``run(args)`` and ``HELP``)
COMMANDS = {
    "models": "models",
    "info": "info",
    "convert": "convert",
    "train": "train",
    "finetune": "finetune",
    "eval": "eval",
    "predict": "predict",
    "demo": "demo",
    "export": "export",
    "quantize": "quantize",
    "bench": "bench",
    "embed": "embed",
    "neighbors": "neighbors",
    "index": "index",
    "fewshot": "fewshot",
    "inspect": "inspect",
    "serve": "serve",
    "bench-serve": "bench_serve",
    "pretrained": "pretrained",
    "reproduce": "reproduce",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line naming it (the usage block stays behind ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="vitkit", description="Vision Transformers: train, fine-tune, evaluate, inspect.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"vitkit.cli.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input, reported in one line without a traceback: vitkit's own, and the
    file system refusing a path the user gave (missing, not a folder, a folder, not permitted)."""
    return (VitkitError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def _one_line(e: BaseException) -> str:
    """``e``'s message on one line (a file system error's own text names the path)."""
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {(e.strerror or type(e).__name__).lower()}"
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit code (2 for a user error, printed as one line)."""
    mkl_amd.enable()  # before the subcommands import torch: this command controls its own process
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a bad option (2, already printed)
        return e.code if isinstance(e.code, int) else 2
    try:
        return int(args._run(args) or 0)
    except user_errors() as e:
        print(f"vitkit {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"vitkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
