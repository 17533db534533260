"""`seminfo score`: bits per token and per byte of a text under a token model."""

from __future__ import annotations

import argparse
import pathlib

from ._common import (add_load_options, add_output_options, add_ray_options, check_ray_options, load_options, add_progress_options, check_text_source,
                      check_int, check_output, examples, open_model, print_csv, print_table, to_json)

_CMD = "seminfo score"

#: Library parameter -> the flag that feeds it (for error messages).
FLAGS = {"source": "--text", "window": "--window", "stride": "--stride", "batch_size": "--batch-size",
         "resume": "--resume", "path": "--per-token", "device": "--device", "spec": "--model",
         "model": "--model", "dtype": "--dtype", "batch_tokens": "--batch-tokens", "ray": "--ray",
         "workers": "--workers"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score", help="bits per token / per byte of a text under a token model",
        description="Score a text file, a directory of .txt/.md/.rst files or a .jsonl corpus (field "
                    "\"text\") with a token model. Figures aggregate by totals as "
                    "lm-evaluation-harness does: bits/token = total bits / tokens, bits/byte = total "
                    "bits / UTF-8 bytes, perplexity = 2^(bits/token). A progress bar with "
                    "tokens/s and an ETA goes to stderr unless --quiet. --dtype bfloat16 or float16 "
                    "runs the weights in half precision (log-softmax in float32, sums in float64): "
                    "the bits are then those of that model, a little different from float32's. "
                    "--ray runs the model on Ray actors (this machine or a cluster) with the same "
                    "totals as one process (docs/scale.md).",
        epilog=examples("seminfo score --model builtin:ngram --text notes.txt --json",
                        "seminfo score --model builtin:ngram --text corpus/ --per-token tokens.csv "
                        "--resume run.jsonl"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="builtin:gpt, builtin:mamba, builtin:smollm2, builtin:ngram, a model directory or "
                        "an offline hub name (masked-diffusion models: use `seminfo compare`, which "
                        "gives their ELBO)")
    p.add_argument("--text", required=True, type=pathlib.Path,
                   help="file, directory or .jsonl to score")
    p.add_argument("--window", type=int, default=None,
                   help="tokens fed per call, prefix included (default: the model's context)")
    p.add_argument("--stride", type=int, default=None,
                   help="new tokens scored per later window (default: the window, i.e. disjoint)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="most windows per model call (default 8; no row limit with --batch-tokens)")
    p.add_argument("--batch-tokens", type=int, default=None, metavar="N",
                   help="token budget per model call: windows, longest first, are added while rows x "
                        "the longest window stays within N")
    p.add_argument("--per-token", type=pathlib.Path, default=None, metavar="CSVPATH",
                   help="also write per-token surprisal and entropy (bits) to this CSV file")
    p.add_argument("--resume", type=pathlib.Path, default=None, metavar="PATH",
                   help="JSONL checkpoint: every scored window is appended to PATH, and a rerun with "
                        "the same model, options and text skips the windows already there")
    add_load_options(p)
    add_ray_options(p)
    add_progress_options(p)
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..models import score_text
    # everything the user named is checked before seconds of model loading, not after
    check_text_source(args.text, "--text", _CMD)
    if args.window is not None:
        check_int(args.window, "--window", _CMD, minimum=1)
    if args.stride is not None:
        check_int(args.stride, "--stride", _CMD, minimum=1)
    if args.batch_size is not None:
        check_int(args.batch_size, "--batch-size", _CMD, minimum=1, maximum=4096)
    if args.batch_tokens is not None:
        check_int(args.batch_tokens, "--batch-tokens", _CMD, minimum=1)
    check_ray_options(args, _CMD)
    if args.per_token is not None:
        check_output(args.per_token, "--per-token", _CMD)
    if args.resume is not None:
        check_output(args.resume, "--resume", _CMD)
    # with --ray the workers load the model; this process never holds the weights
    model = args.model if args.ray else open_model(args.model, args, "score", command=_CMD)
    result = score_text(model, args.text, window=args.window, stride=args.stride,
                        batch_size=args.batch_size, batch_tokens=args.batch_tokens,
                        progress=not args.quiet, per_token=args.per_token is not None,
                        resume=args.resume, ray=args.ray, workers=args.workers,
                        load_options=load_options(args) if args.ray else None)
    if getattr(model, "compiled", False) and not args.quiet:
        import sys
        print(f"{_CMD}: torch.compile took {model.compile_seconds:.1f} s of this run (first calls of "
              "each new shape)", file=sys.stderr)
    if args.per_token is not None:
        result.write_csv(args.per_token, level="token",
                         tokenizer=None if args.ray else model.tokenizer)
    summary = result.summary()
    if args.json:
        print(to_json(summary))
    elif args.csv:
        print_csv(result.document_rows())
    else:
        head = {k: summary[k] for k in ("model", "bits_per_token", "bits_per_byte", "perplexity",
                                        "n_tokens", "n_bytes", "total_bits")}
        print_table([head])
        if len(result.documents) > 1:
            print()
            print_table(result.document_rows())
        print("\nunits: bits/token, bits/byte (of UTF-8 text), perplexity per token, total_bits in bits")
    return 0
