"""`seminfo report`: the self-contained HTML report (the project's main job)."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._common import add_load_options, load_options

DEFAULT_MODELS = ["builtin:smollm2", "builtin:gpt", "builtin:ngram"]
#: Corpus bytes the report uses by default: SmolLM2 scores about 200 tokens/s on 2 CPU cores, so the
#: whole 165 KB validation split (44,000 of its tokens) would take about 4 minutes for that table alone.
DEFAULT_MAX_BYTES = 32_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the HTML report (default: embedded models and corpus)",
        description="Score the corpus with each model and write a self-contained HTML report with "
                    "every section: token-model scores, exact-versus-estimated foundation tables, "
                    "rate-distortion, information flow and compression.\n\n"
                    "Example: seminfo report --out report   (then open report/index.html)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("report"),
                   help="output directory (default ./report); index.html is written there")
    p.add_argument("--model", action="append", dest="models", metavar="MODEL",
                   help="model spec, repeatable; the first is the main model "
                        f"(default: {' '.join(DEFAULT_MODELS)})")
    p.add_argument("--text", type=pathlib.Path, default=None,
                   help="corpus file (default: the embedded validation split)")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                   help=f"use only the first N bytes of the corpus (default {DEFAULT_MAX_BYTES:,}, so "
                        "that the report takes a few minutes on 2 CPU cores; 0 = the whole corpus)")
    p.add_argument("--fast", action="store_true", help="small samples everywhere (a quick look)")
    p.add_argument("--seed", type=int, default=0)
    add_load_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..report import ReportContext, write_report
    if args.max_bytes < 0:
        raise InputError(f"The `--max-bytes` option of seminfo report must be >= 0 (0 = the whole "
                         f"corpus). Got {args.max_bytes}.")
    if args.text is not None and not args.text.is_file():
        raise InputError(f"The `--text` option of seminfo report must name a readable file. "
                         f"Got {str(args.text)!r}.")
    ctx = ReportContext(models=args.models or list(DEFAULT_MODELS), text_path=args.text,
                        fast=args.fast, seed=args.seed, max_bytes=args.max_bytes or None,
                        load_options=load_options(args))
    result = write_report(args.out, ctx)
    print(f"report written to {result.path.resolve()} ({result.seconds:.0f} s, "
          f"{len(result.sections)} sections)")
    if result.failed:
        print(f"seminfo report: {len(result.failed)} section(s) failed: {', '.join(result.failed)} "
              "(the error is shown in the report)", file=sys.stderr)
        return 1
    return 0
