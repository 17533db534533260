"""`seminfo capacity`: knowledge capacity in bits per parameter (reads the shipped results or runs them)."""

from __future__ import annotations

import argparse
import math
import pathlib

from ._common import (add_output_options, check_device, check_input_file, check_int, check_output, check_seed,
                      examples, print_csv, print_table, to_json, where)

_CMD = "seminfo capacity"

#: Library parameter -> the flag that feeds it (for error messages).
FLAGS = {"sizes": "--sizes", "exposures": "--exposures", "n_people": "--people", "seed": "--seed",
         "device": "--device", "out": "--out", "path": "--results", "threads": "--threads"}

#: Most people a --run accepts from the command line (4 facts each).
MAX_PEOPLE = 1_000_000


def _size(text: str) -> tuple[int, int]:
    """'2x16' -> (2, 16): n_layer x n_embd."""
    try:
        L, d = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size is LAYERSxWIDTH, e.g. 2x16; got {text!r}") from None
    return L, d


def register(subparsers) -> None:
    from ..capacity.experiment import DEFAULT_EXPOSURES, DEFAULT_PEOPLE, DEFAULT_SIZES
    p = subparsers.add_parser(
        "capacity", help="knowledge capacity: stored bits per parameter of GPT-2 models on synthetic facts",
        description=(
            "Knowledge capacity (Allen-Zhu & Li 2024): GPT-2 models of several sizes trained on synthetic "
            "biographies whose facts have exact entropy, for a number of exposures per fact; stored bits = "
            "sum over facts of max(0, log2 |domain| - loss bits of the value after '<name> <attribute> is'), "
            "and bits per parameter (all parameters, embeddings included), beside the paper's ~1 "
            "(100 exposures) and ~2 (1,000 exposures) bits/parameter. By default prints the shipped results "
            "(or --results FILE); --run trains and measures anew (the default sizes: about 12 minutes on 2 CPU "
            "cores; see docs/capacity.md)."),
        epilog=examples("seminfo capacity --plot capacity.png",
                        "seminfo capacity --json",
                        "seminfo capacity --run --sizes 1x8 --exposures 3 --people 40 --out cap.json --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=pathlib.Path, metavar="FILE",
                   help="results file to print (default: the shipped results)")
    p.add_argument("--run", action="store_true", help="train and measure instead of reading results")
    p.add_argument("--sizes", type=_size, nargs="+", metavar="LxD",
                   help="with --run: model sizes as n_layer x n_embd (default "
                        f"{' '.join(f'{L}x{d}' for L, d in DEFAULT_SIZES)})")
    p.add_argument("--exposures", type=int, nargs="+", metavar="E",
                   help=f"with --run: exposures per fact (default {' '.join(map(str, DEFAULT_EXPOSURES))})")
    p.add_argument("--people", type=int, default=None, help=f"with --run: people in the corpus (default {DEFAULT_PEOPLE})")
    p.add_argument("--seed", type=int, default=0, help="with --run: seed of corpus and training (default 0)")
    p.add_argument("--device", default="cpu", help="with --run: cpu (default), cuda, cuda:N, mps or auto")
    p.add_argument("--threads", type=int, default=None, help="with --run: torch threads (default: torch's)")
    p.add_argument("--out", type=pathlib.Path, metavar="FILE", help="with --run: write the results as JSON")
    p.add_argument("--plot", type=pathlib.Path, metavar="PNG", help="write the bits/parameter plot")
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..capacity.experiment import (DEFAULT_EXPOSURES, DEFAULT_PEOPLE, DEFAULT_SIZES, REFERENCE,
                                       load_results, plot_capacity, run_experiment)
    run_only = {"--sizes": args.sizes, "--exposures": args.exposures, "--people": args.people,
                "--out": args.out, "--threads": args.threads}
    if not args.run:
        given = [flag for flag, v in run_only.items() if v is not None]
        if given:
            raise InputError(f"{where(given[0], _CMD)} applies to --run only. Add --run to train anew, or drop "
                             f"{given[0]} to print the results.")
    elif args.results is not None:
        raise InputError(f"{where('--results', _CMD)} and `--run` exclude each other: --results prints saved "
                         "results, --run makes new ones (use --out to save them).")
    if args.results is not None:
        check_input_file(args.results, "--results", _CMD, text=True, nonempty=True)
    plot = None if args.plot is None else check_output(args.plot, "--plot", _CMD)
    if args.run:
        sizes = args.sizes or list(DEFAULT_SIZES)
        for L, d in sizes:
            check_int(L, "--sizes", _CMD, minimum=1, maximum=64, why=" (layers)")
            check_int(d, "--sizes", _CMD, minimum=1, maximum=8192, why=" (width)")
        exposures = [check_int(e, "--exposures", _CMD, minimum=1, maximum=100_000)
                     for e in (args.exposures or DEFAULT_EXPOSURES)]
        people = check_int(DEFAULT_PEOPLE if args.people is None else args.people, "--people", _CMD, minimum=1,
                           maximum=MAX_PEOPLE)
        seed = check_seed(args.seed, _CMD)
        device = check_device(args.device, _CMD)
        threads = None if args.threads is None else check_int(args.threads, "--threads", _CMD, minimum=1,
                                                              maximum=1024)
        out = None if args.out is None else check_output(args.out, "--out", _CMD)
        res = run_experiment(sizes=sizes, exposures=exposures, n_people=people, seed=seed, device=device,
                             threads=threads, out=out, progress=not args.json,
                             command=("seminfo capacity --run --sizes "
                                      f"{' '.join(f'{L}x{d}' for L, d in sizes)} "
                                      f"--exposures {' '.join(map(str, exposures))} --people {people} "
                                      f"--seed {seed} --device {device}"))
    else:
        res = load_results(args.results)
    if plot is not None:
        plot_capacity(res, plot)
    if args.json:
        print(to_json(res.as_dict()))
        return 0
    rows = [{**r, "reference": r["reference"] if not math.isnan(r["reference"]) else "-"}
            for r in res.rows()]
    if args.csv:
        print_csv(rows)
        return 0
    print_table(rows)
    c, m = res.corpus, res.machine
    attrs = ", ".join(f"{k} {v:,}" for k, v in c["attributes"].items())
    print(f"\ncorpus: {c['n_people']:,} people x ({attrs} values) = {c['entropy_bits']:,.0f} bits; stored bits "
          "after '<name> <attribute> is', bits/param over all parameters (embeddings included); reference: "
          + ", ".join(f"Allen-Zhu & Li ~{v:g} bit/param at {k:,} exposures" for k, v in REFERENCE.items()))
    print(f"made by: {res.command} ({res.date}) on {m.get('cpu', '?')}, torch {m.get('torch', '?')}")
    for nr in res.not_run:
        print(f"not run: L{nr['n_layer']} d{nr['n_embd']} on {nr['device']} ({nr['reason']})")
    if plot is not None:
        print(f"plot written to {plot}")
    return 0
