"""The `seminfo` command: a thin layer over the library.

Each command lives in its own module of this package with a ``register(subparsers)`` function that
adds its parser and sets ``func``; the function parses, makes one library call and formats the
result. Errors from seminfo (SeminfoError) are printed as one line to stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import SeminfoError

#: Modules of seminfo.cli that define commands, in the order of `seminfo --help`.
COMMANDS = ["demo", "score", "compare", "report", "rd", "flow", "compress"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = argparse.ArgumentParser(
        prog="seminfo",
        description="Semantic information theory of LLMs, measured: exact measures, estimators, "
                    "token models, rate-distortion, information flow and compression. Units are "
                    "bits unless stated.")
    parser.add_argument("--version", action="version", version=f"seminfo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue                      # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # transformers' notes (slow-kernel fallbacks on CPU, loading bars) are not the user's business here;
    # set before transformers is first imported by a command
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except SeminfoError as exc:
        print(f"seminfo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seminfo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
