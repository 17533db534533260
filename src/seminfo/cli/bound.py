"""`seminfo bound`: a compression bound on a token model's risk from the documents it was trained on."""

from __future__ import annotations

import argparse
import pathlib

from ._common import (add_load_options, add_output_options, add_progress_options, check_float, check_int,
                      check_seed, check_text_source, examples, open_model, print_csv, print_table, to_json,
                      where)

_CMD = "seminfo bound"

#: Library parameter -> the flag that feeds it (for error messages).
FLAGS = {"model": "--model", "spec": "--model", "source": "--train", "documents": "--train",
         "delta": "--delta", "kind": "--kind", "max_samples": "--max-samples", "seed": "--seed",
         "levels": "--levels", "alpha_grid": "--alpha", "device": "--device", "batch_size": "--batch-size"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bound", help="generalisation bound (Occam / compression) of a token model on its training data",
        description=(
            "Compression bound on the risk of a token model, from the documents it was trained on "
            "(Lotfi et al. 2023 and 2024): bound = empirical loss of the smoothed, quantised model + "
            "Delta sqrt((C ln 2 + ln(1/delta)) / (2m)) [+ a sampling term with --max-samples]. "
            "--kind token (default) counts tokens (a martingale bound on the expected next-token loss "
            "given the training contexts); --kind document counts documents (independent draws). C is "
            "the range-coded size of the model's parameters (neural weights quantised per tensor, "
            "n-gram counts exactly) plus the bits naming the smoothing and the quantisation chosen "
            "from their grids. A bound at or above log2 K bits/token is vacuous. Bits per token "
            "unless stated; the mean l1 norm of the logits (nats) is printed beside the bound."),
        epilog=examples("seminfo bound --model builtin:ngram:1 --train notes.txt",
                        "seminfo bound --model builtin:ngram:2 --train corpus/ --kind document --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="builtin:ngram[:N], builtin:gpt, builtin:mamba, a model directory or an offline hub name")
    p.add_argument("--train", required=True, type=pathlib.Path,
                   help="the training data: a file, a directory of .txt/.md/.rst files or a .jsonl corpus")
    p.add_argument("--kind", default="token", help="token (default) or document")
    p.add_argument("--delta", type=float, default=0.05, help="failure probability in (0, 1) (default 0.05)")
    p.add_argument("--max-samples", type=int, default=None, metavar="S",
                   help="evaluate S tokens (or documents) drawn at random and pay the sampling term "
                        "(default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subsample (default 0)")
    p.add_argument("--levels", type=int, nargs="+", default=None, metavar="N",
                   help="quantisation grid points per tensor searched for neural models (odd; default "
                        "9 17 33 65)")
    p.add_argument("--alpha", type=float, nargs="+", default=None, metavar="A",
                   help="smoothing weights searched (default 0.0001 0.001 0.005 0.01 0.05 0.1 0.25 0.5)")
    p.add_argument("--batch-size", type=int, default=8, help="windows per model call (default 8)")
    add_load_options(p)
    add_progress_options(p)
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..bounds import KINDS, generalization_bound
    from ..errors import InputError
    # every flag is checked before the model is loaded
    check_text_source(args.train, "--train", _CMD)
    if args.kind not in KINDS:
        raise InputError(f"{where('--kind', _CMD)} must be one of {', '.join(KINDS)}. Got {args.kind!r}.")
    delta = check_float(args.delta, "--delta", _CMD, minimum=0.0, strict_min=True)
    if delta >= 1:
        raise InputError(f"{where('--delta', _CMD)} must be < 1 (a probability of failure). Got {delta:g}.")
    if args.max_samples is not None:
        check_int(args.max_samples, "--max-samples", _CMD, minimum=1)
    seed = check_seed(args.seed, _CMD)
    check_int(args.batch_size, "--batch-size", _CMD, minimum=1, maximum=4096)
    kw = {}
    if args.levels is not None:
        kw["levels"] = [check_int(v, "--levels", _CMD, minimum=3, maximum=2 ** 16) for v in args.levels]
    if args.alpha is not None:
        kw["alpha_grid"] = [check_float(a, "--alpha", _CMD, minimum=0.0, strict_min=True) for a in args.alpha]
    model = open_model(args.model, args, "score", command=_CMD)
    res = generalization_bound(model, args.train, delta, kind=args.kind, max_samples=args.max_samples,
                               seed=seed, batch_size=args.batch_size, progress=not args.quiet, **kw)
    if args.json:
        print(to_json(res.summary()))
        return 0
    if args.csv:
        print_csv(res.terms())
        return 0
    print_table(res.terms())
    unit = "tokens" if res.kind == "token" else "documents"
    verdict = (f"VACUOUS (>= log2 K = {res.log2_vocab:.4g} bits/token); the {res.dominant} term dominates"
               if res.vacuous else f"non-vacuous (< log2 K = {res.log2_vocab:.4g} bits/token)")
    print(f"\n{res.kind}-level bound on {res.model}: {res.bound:.4f} bits/token with probability >= "
          f"{1 - res.delta:g}, {verdict}. m = {res.m:,} {unit}, {res.n_evaluated:,} evaluated; alpha = "
          f"{res.alpha:g}; quantisation: {res.quantisation}; the mean l1 norm of the {res.logit_l1_source} "
          f"over {res.logit_l1_positions} positions is in nats.")
    return 0
