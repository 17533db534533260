"""`seminfo compare`: models side by side on the same bytes (bits/byte, size, state, speed, Granger)."""

from __future__ import annotations

import argparse
import pathlib

from ._common import (add_load_options, add_output_options, check_device, check_input_file, check_int,
                      check_seed, examples, load_options, print_csv, print_table, to_json)

_CMD = "seminfo compare"
FLAGS = {"models": "--model", "model": "--model", "spec": "--model", "text": "--text",
         "samples": "--samples", "seed": "--seed", "device": "--device"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare models on the same bytes: bits/byte (exact or ELBO bound), "
                        "parameters, state per token, speed, Granger statistic",
        description="Score the same bytes with every model. Left-to-right models (Transformers, Mamba, "
                    "n-grams) give exact bits/byte; masked-diffusion models give the negative ELBO, an "
                    "upper bound, with its Monte-Carlo standard error. Also: parameters, bytes of state "
                    "carried per token of context at the model's context length (KV cache, fixed SSM "
                    "state, or the whole sequence), tokens per second and the Granger statistic (bits "
                    "per token the past beyond the previous token saves).",
        epilog=examples("seminfo compare --model builtin:ngram --model builtin:ngram:3 --text notes.txt",
                        "seminfo compare --model builtin:ngram --model builtin:ngram:2 --max-bytes 2000 "
                        "--no-progress --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", dest="models", metavar="MODEL", required=True,
                   help="model spec (repeat for each model)")
    p.add_argument("--text", type=pathlib.Path, default=None,
                   help="text file (default: the first --max-bytes of the embedded validation split)")
    p.add_argument("--max-bytes", type=int, default=4000, metavar="N",
                   help="use the first N bytes of the text (default 4,000; 0 = all)")
    p.add_argument("--samples", type=int, default=32,
                   help="ELBO samples per window, even, 2 to 4,096 (default 32)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_load_options(p)
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..models.compare import compare_models
    seed = check_seed(args.seed, _CMD)
    n = check_int(args.max_bytes, "--max-bytes", _CMD, minimum=0)
    samples = check_int(args.samples, "--samples", _CMD, minimum=2, maximum=4096)
    if samples % 2:
        raise InputError(f"The `--samples` option of {_CMD} must be even (antithetic pairs). "
                         f"Got {samples}.")
    if args.text is None:
        from ..models.builtin import corpus_path
        path = corpus_path("valid")
    else:
        path = check_input_file(args.text, "--text", _CMD, nonempty=True)
    check_device(args.device, _CMD)
    data = path.read_bytes()
    data = data[:n] if n else data
    result = compare_models(args.models, data, samples=samples, seed=seed,
                            progress=not args.no_progress, load_options=load_options(args))
    if args.json:
        print(to_json(result.summary()))
        return 0
    rows = [{"model": m.name, "family": m.family, "bits/byte": m.bits_per_byte,
             "± stderr": m.stderr, "bound": "exact" if m.exact else "ELBO (upper)",
             "parameters": m.parameters, "state B/token": m.state_bytes_per_token, "state": m.state_kind,
             "tokens/s": m.tokens_per_second, "Granger bits/token": m.granger_bits_per_token}
            for m in result.models]
    if args.csv:
        print_csv(rows)
    else:
        print_table(rows)
        print(f"\n{result.n_bytes:,} bytes of {path.name}; masked models: {result.samples} ELBO samples per "
              "window; state B/token at each model's context length (256 for models without one)")
    return 0
