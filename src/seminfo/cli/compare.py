"""`seminfo compare`: models side by side on the same bytes (bits/byte, size, state, speed, Granger)."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._common import add_load_options, add_output_options, load_options, print_csv, print_table, to_json

_CMD = "seminfo compare"
EXAMPLE = """example:
  seminfo compare --model builtin:gpt --model builtin:mamba --model builtin:diffusion --json
  seminfo compare --model builtin:gpt --model ./my-model --text notes.txt --samples 64
"""


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
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", dest="models", metavar="MODEL", required=True,
                   help="model spec (repeat for each model)")
    p.add_argument("--text", type=pathlib.Path, default=None,
                   help="text file (default: the first --max-bytes of the embedded validation split)")
    p.add_argument("--max-bytes", type=int, default=4000, metavar="N",
                   help="use the first N bytes of the text (default 4,000; 0 = all)")
    p.add_argument("--samples", type=int, default=32, help="ELBO samples per window (default 32, even)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_load_options(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validate import as_int, as_seed
    from ..errors import InputError
    from ..models.compare import compare_models
    as_seed(args.seed, _CMD, "--seed")
    n = as_int(args.max_bytes, "--max-bytes", _CMD, minimum=0)
    as_int(args.samples, "--samples", _CMD, minimum=2)
    if args.text is None:
        from ..models.builtin import corpus_path
        path = corpus_path("valid")
    else:
        path = args.text
    if not path.is_file():
        raise InputError(f"The `--text` option of {_CMD} must name a readable file. Got {str(path)!r}.")
    data = path.read_bytes()
    data = data[:n] if n else data
    result = compare_models(args.models, data, samples=args.samples, seed=args.seed,
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
        print_csv(rows, file=sys.stdout)
    else:
        print_table(rows, file=sys.stdout)
        print(f"\n{result.n_bytes:,} bytes of {path.name}; masked models: {result.samples} ELBO samples per "
              "window; state B/token at each model's context length (256 for models without one)")
    return 0
