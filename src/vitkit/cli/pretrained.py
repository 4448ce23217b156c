"""``vitkit pretrained``: the published checkpoints vitkit resolves by name; ``--download NAME`` fetches one."""

from __future__ import annotations

import argparse
import json

HELP = "list the published checkpoints loadable by name (or --download NAME to fetch one without loading it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--download",
        metavar="NAME",
        action="append",
        default=[],
        help="fetch NAME (registry name, hf:REPO or timm:MODEL.TAG) into the cache; repeatable",
    )
    p.add_argument("--filter", default="", help="only names containing this text (case-insensitive)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--markdown", action="store_true", help="print the table of docs/checkpoints.md")


def run(args: argparse.Namespace) -> int:
    from ..hub import fetch_name
    from ..hub.table import markdown, rows

    if args.download:
        for name in args.download:
            got = fetch_name(name)
            print(f"{name}: {got.path} (from {got.source})")
        return 0
    if args.markdown:
        print(markdown(), end="")
        return 0
    table = rows(with_cache=True, contains=args.filter)
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    width = max((len(r["name"]) for r in table), default=4)
    print(f"{'name':<{width}} {'params':>8} {'res':>4}  {'data':<40} {'use':<8} {'sources':<18} cached")
    for r in table:
        params = f"{r['params'] / 1e6:.1f}M" if r["params"] else "-"
        use = "classify" if r["classifier"] else "features"  # zeroed or absent head: embed / finetune only
        print(
            f"{r['name']:<{width}} {params:>8} {r['resolution']:>4}  {r['data']:<40} {use:<8} "
            f"{','.join(r['sources']):<18} {r['cached'] or 'no'}"
        )
    return 0
