"""`seminfo report`: the self-contained HTML report (the project's main job).

A report either completes or fails: every flag (models, corpus, output folder, seed, sections) is
checked before the first section is built, and if any section raises, the command exits with status
2 and one line naming the failed sections (the page is still written, with the error in each failed
section's box, for diagnosis).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._common import (add_load_options, check_device, check_input_file, check_int, check_output,
                      check_seed, examples, load_options, user_message, where)

_CMD = "seminfo report"
DEFAULT_MODELS = ["builtin:smollm2", "builtin:gpt", "builtin:ngram"]
#: Corpus bytes the report uses by default: SmolLM2 scores about 200 tokens/s on 2 CPU cores, so the
#: whole 165 KB validation split (44,000 of its tokens) would take about 4 minutes for that table alone.
DEFAULT_MAX_BYTES = 32_000
FLAGS = {"out_dir": "--out", "models": "--model", "spec": "--model", "device": "--device",
         "max_bytes": "--max-bytes", "seed": "--seed", "text_path": "--text"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the HTML report (default: embedded models and corpus)",
        description="Score the corpus with each model and write a self-contained HTML report with "
                    "every section: token-model scores, architectures, exact-versus-estimated "
                    "foundation tables, rate-distortion, information flow, embedding, the energy view, "
                    "knowledge capacity and generalisation bounds, and compression. "
                    "`seminfo report --out report` builds them all with the default models (a few "
                    "minutes on 2 CPU cores; open report/index.html). If a section fails the "
                    "command exits with status 2 naming it; the page is still written.",
        epilog=examples("seminfo report --out report --model builtin:ngram --fast --section foundation "
                        "--section rate-distortion --no-progress"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("report"), metavar="DIR",
                   help="output folder (default ./report, created if missing in an existing "
                        "folder); index.html and report.json are written there")
    p.add_argument("--model", action="append", dest="models", metavar="MODEL",
                   help="model spec, repeatable; the first is the main model "
                        f"(default: {' '.join(DEFAULT_MODELS)})")
    p.add_argument("--text", type=pathlib.Path, default=None,
                   help="UTF-8 corpus file (default: the embedded validation split)")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                   help=f"use only the first N bytes of the corpus (default {DEFAULT_MAX_BYTES:,}, so "
                        "that the report takes a few minutes on 2 CPU cores; 0 = the whole corpus)")
    p.add_argument("--section", action="append", dest="sections", metavar="KEY",
                   help="build only this section (repeatable): models, architectures, foundation, "
                        "rate-distortion, flow, embedding, energy, capacity, compression (default: all)")
    p.add_argument("--fast", action="store_true", help="small samples everywhere (a quick look)")
    p.add_argument("--seed", type=int, default=0, help="seed of every sampling step (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    add_load_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def _sections(keys: list[str] | None):
    from ..errors import InputError
    from ..report.sections import SECTIONS
    if not keys:
        return None
    known = dict(SECTIONS)
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise InputError(f"{where('--section', _CMD)} must be one of {', '.join(known)}. Got "
                         f"{unknown[0]!r}.")
    return [(k, known[k]) for k in known if k in keys]


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError, SeminfoError
    from ..report import ReportContext, write_report
    if args.max_bytes < 0:
        raise InputError(f"{where('--max-bytes', _CMD)} must be >= 0 (0 = the whole corpus). "
                         f"Got {args.max_bytes}.")
    check_int(args.max_bytes, "--max-bytes", _CMD, minimum=0)
    seed = check_seed(args.seed, _CMD)
    if args.text is not None:
        check_input_file(args.text, "--text", _CMD, text=True, nonempty=True)
    models = args.models or list(DEFAULT_MODELS)
    check_device(args.device, _CMD)
    sections = _sections(args.sections)
    out = check_output(args.out, "--out", _CMD, folder=True)
    ctx = ReportContext(models=models, text_path=args.text, fast=args.fast, seed=seed,
                        max_bytes=args.max_bytes or None, load_options=load_options(args),
                        progress=not args.no_progress)
    for spec in models:                 # loaded once here, kept by ctx for the sections that use them
        try:
            ctx.model(spec)
        except SeminfoError as exc:
            raise InputError(f"{where('--model', _CMD)} names a model that cannot be used: "
                             f"{user_message(exc, _CMD, FLAGS)}") from None
    result = write_report(out, ctx, sections=sections)
    if result.failed:
        raise SeminfoError(f"{len(result.failed)} of {len(result.failed) + len(result.sections)} "
                           f"section(s) failed: {', '.join(result.failed)}; the errors are shown in "
                           f"{result.path}")
    print(f"report written to {result.path.resolve()} ({result.seconds:.0f} s, "
          f"{len(result.sections)} sections)", file=sys.stdout)
    return 0
