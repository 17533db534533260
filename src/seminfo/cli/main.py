"""The `seminfo` command: a thin layer over the library.

Each command lives in its own module of this package with a ``register(subparsers)`` function that
adds its parser and sets ``func`` (and ``flags``, which library parameter each flag feeds). A command
checks its flags, calls the library and formats the result; `flow` and `report` each make one library
call, `score` and `compress` load a model and make one call with it.

Every failure caused by the input is one line on stderr with exit status 2: argument errors (the
parser), SeminfoError from the checks or the library (parameter names turned into flags by
:func:`~seminfo.cli._common.user_message`) and operating-system errors on the files named.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import SeminfoError
from ._common import OneLineParser, user_message

#: Modules of seminfo.cli that define commands, in the order of `seminfo --help`.
COMMANDS = ["demo", "score", "compare", "report", "rd", "flow", "embed", "energy", "capacity", "bound", "compress"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = OneLineParser(
        prog="seminfo",
        description="Semantic information theory of LLMs, measured: exact measures, estimators, "
                    "token models, rate-distortion, information flow and compression. Units are "
                    "bits unless stated. `seminfo COMMAND --help` ends with examples.")
    parser.add_argument("--version", action="version", version=f"seminfo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").register(sub)
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
    cmd = f"seminfo {args.command}"
    try:
        return int(args.func(args) or 0)
    except SeminfoError as exc:
        print(f"{cmd}: error: {user_message(exc, cmd, getattr(args, 'flags', None))}", file=sys.stderr)
        return 2
    except OSError as exc:            # a file named on the command line could not be read or written
        where = f" {exc.filename!s}" if exc.filename else ""
        print(f"{cmd}: error: could not read or write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{cmd}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
