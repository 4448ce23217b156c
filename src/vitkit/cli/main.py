"""``vitkit`` entry point: parses the subcommand and turns library errors into one-line messages."""

from __future__ import annotations

import argparse
import importlib
import sys

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
    "bench": "bench",
    "embed": "embed",
    "neighbors": "neighbors",
    "fewshot": "fewshot",
    "inspect": "inspect",
    "reproduce": "reproduce",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitkit", description="Vision Transformers: train, fine-tune, evaluate, inspect."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"vitkit.cli.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input, reported in one line without a traceback."""
    from ..checkpoint.errors import CheckpointError
    from ..config import ConfigError
    from ..export import ExportError

    errors: list[type[BaseException]] = [CheckpointError, ConfigError, ExportError, FileNotFoundError]
    try:
        from ..data.errors import DataError

        errors.append(DataError)
    except ImportError:
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except user_errors() as e:
        print(f"vitkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"vitkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
