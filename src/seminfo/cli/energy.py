"""`seminfo energy`: Boltzmann statistics per token, attention heads as Hopfield steps, memory capacity."""

from __future__ import annotations

import argparse
import pathlib

from ._common import (add_load_options, add_output_options, check_float, check_input_file, check_int,
                      check_output, check_seed, examples, open_model, print_csv, print_table, to_json,
                      where)

_CMD = "seminfo energy"

#: Library parameter -> the flag that feeds it (for error messages).
FLAGS = {"model": "--model", "spec": "--model", "text": "--text", "temperatures": "--temperature",
         "max_tokens": "--max-tokens", "dims": "--dims", "betas": "--betas", "n_max": "--n-max",
         "n_probes": "--probes", "p": "--p", "seed": "--seed", "inputs": "--text", "device": "--device"}

#: Largest --n-max (patterns stored per trial) the command accepts.
MAX_N = 2 ** 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "energy", help="energy-based view: Boltzmann statistics, Hopfield descent of heads, capacity",
        description=(
            "The LLM as an energy-based model. With --model and --text: free energy F and mean energy U "
            "(nats/token), entropy S (bits/token) and heat capacity C = Var(E)/T^2 of every next-token "
            "distribution at each --temperature (energy E = -ln p; F = 0 at T = 1), averaged over "
            "tokens, with the heat-capacity peak. With --hopfield: every attention head read as a "
            "modern Hopfield step (keys = stored patterns, query = state, beta = score scale): the "
            "share of positions where the pure update and the real head output lower the energy. "
            "With --capacity: one-step retrieval capacity against dimension, modern (per beta) and "
            "classical Hebbian, beside Ramsauer et al.'s Theorem 3 bound and 0.138 d."),
        epilog=examples("seminfo energy --model builtin:ngram --text notes.txt --json",
                        "seminfo energy --model builtin:gpt --text notes.txt --hopfield --max-tokens 48 "
                        "--temperature 0.5 --temperature 1 --temperature 2",
                        "seminfo energy --capacity --dims 8 16 --betas 0.5 --n-max 512 --probes 32 "
                        "--plot energy.png --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="token model for the Boltzmann statistics (and heads with --hopfield): "
                                   "builtin:ngram, builtin:gpt, builtin:smollm2, a Hugging Face causal LM")
    p.add_argument("--text", type=pathlib.Path, help="UTF-8 text file to read (with --model)")
    p.add_argument("--temperature", type=float, action="append", dest="temperatures", metavar="T",
                   help="temperature (repeatable; default: 41 values from 0.1 to 10)")
    p.add_argument("--max-tokens", type=int, default=256,
                   help="first tokens of the text used (default 256; --hopfield also stops at the "
                        "model's context)")
    p.add_argument("--hopfield", action="store_true",
                   help="read every attention head of --model as a Hopfield step (GPT-2, Llama-like)")
    p.add_argument("--capacity", action="store_true", help="measure the memory-capacity curve")
    p.add_argument("--dims", type=int, nargs="+", default=[8, 16, 24, 32, 48, 64, 96, 128], metavar="D",
                   help="dimensions of the capacity curve (default 8 16 24 32 48 64 96 128)")
    p.add_argument("--betas", type=float, nargs="+", default=[0.25, 0.5, 1.0], metavar="BETA",
                   help="inverse temperatures of the modern network (default 0.25 0.5 1)")
    p.add_argument("--n-max", type=int, default=2 ** 16, help="most patterns tried (default 65536)")
    p.add_argument("--probes", type=int, default=128, help="patterns probed per trial (default 128)")
    p.add_argument("--p", type=float, default=0.05, help="allowed failure share (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random patterns (default 0)")
    p.add_argument("--plot", type=pathlib.Path, metavar="PATH", help="write the figures as one PNG")
    add_load_options(p)
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    # every flag is checked before any model is loaded or any pattern drawn
    if (args.model is None) != (args.text is None):
        raise InputError(f"{where('--model', _CMD)} and `--text` go together: the Boltzmann statistics "
                         "need a model and a text. Give both, or neither with --capacity.")
    if args.hopfield and args.model is None:
        raise InputError(f"{where('--hopfield', _CMD)} needs `--model` and `--text` (a GPT-2 or Llama-like "
                         "model whose heads are read on the text).")
    if args.model is None and not args.capacity:
        raise InputError(f"{_CMD} has nothing to do: give --model and --text (Boltzmann statistics, and "
                         "--hopfield for the heads) and/or --capacity.")
    if args.text is not None:
        check_input_file(args.text, "--text", _CMD, text=True, nonempty=True)
    temps = None
    if args.temperatures:
        temps = [check_float(t, "--temperature", _CMD, minimum=0.0, strict_min=True) for t in args.temperatures]
    max_tokens = check_int(args.max_tokens, "--max-tokens", _CMD, minimum=1, maximum=100_000)
    if args.capacity:
        dims = [check_int(d, "--dims", _CMD, minimum=2, maximum=4096) for d in args.dims]
        betas = [check_float(b, "--betas", _CMD, minimum=0.0, strict_min=True) for b in args.betas]
        n_max = check_int(args.n_max, "--n-max", _CMD, minimum=1, maximum=MAX_N,
                          why=" (patterns stored per trial)")
        probes = check_int(args.probes, "--probes", _CMD, minimum=1, maximum=4096)
        p_fail = check_float(args.p, "--p", _CMD, minimum=0.0, strict_min=True)
        if p_fail >= 1:
            raise InputError(f"{where('--p', _CMD)} must be < 1. Got {p_fail:g}.")
        seed = check_seed(args.seed, _CMD)
    plot = None if args.plot is None else check_output(args.plot, "--plot", _CMD)

    from ..energy import DEFAULT_TEMPERATURES, boltzmann, hopfield_capacity, hopfield_descent
    out: dict = {}
    b = h = c = None
    if args.model is not None:
        needs = ("score", "internals") if args.hopfield else ("score",)
        model = open_model(args.model, args, *needs, command=_CMD)
        text = args.text.read_text(encoding="utf-8")
        b = boltzmann(model, text, temps if temps else DEFAULT_TEMPERATURES, max_tokens=max_tokens)
        out["boltzmann"] = b.summary()
        if args.hopfield:
            limit = model.max_context or max_tokens + len(model.prefix)
            ids = model.tokenizer.encode(text)[: min(max_tokens, limit - len(model.prefix))]
            h = hopfield_descent(model, ids)
            out["hopfield"] = {**h.summary(), "heads": h.rows()}
    if args.capacity:
        c = hopfield_capacity(dims, betas=betas, p=p_fail, n_probes=probes, n_max=n_max, seed=seed)
        out["capacity"] = {"units": c.units, "p": c.p, "tolerance": c.tolerance, "n_probes": c.n_probes,
                           "n_max": c.n_max, "seed": c.seed, "rows": c.rows()}
    if plot is not None:
        _plot(plot, b, h, c)
    if args.json:
        print(to_json(out))
        return 0
    show = print_csv if args.csv else print_table
    if b is not None:
        rows = [{"T": float(T), "F_nats": float(b.free_energy[k].mean()),
                 "U_nats": float(b.mean_energy[k].mean()), "S_bits": float(b.entropy[k].mean()),
                 "C": float(b.heat_capacity[k].mean())} for k, T in enumerate(b.temperatures)]
        show(rows)
        if not args.csv:
            s = out["boltzmann"]
            print(f"\n{b.n_tokens} tokens of {args.text.name} under {b.model}: means over tokens; "
                  "F, U in nats/token (E = -ln p, so F = 0 at T = 1), S in bits/token, C = Var(E)/T^2; "
                  f"heat-capacity peak at median T = {s['median_peak_temperature']:.4g}")
    if h is not None:
        if not args.csv:
            print()
        show(h.rows())
        if not args.csv:
            s = h.summary()
            print(f"\nHopfield descent ({s['architecture']}, {s['n_positions']} positions): pure update "
                  f"non-increasing in {s['share_pure_nonincreasing']:.4f} of positions (theorem: 1); real "
                  f"head E(o) < E(q) in {s['share_real_decreased']:.4f}, E(o) < E(0) in "
                  f"{s['share_real_below_origin']:.4f}; attention weights reproduced to "
                  f"{s['max_alpha_error']:.1e}")
    if c is not None:
        if not args.csv and b is not None:
            print()
        show(c.rows())
        if not args.csv:
            print(f"\ncapacity: largest N (patterns) with retrieved share >= {1 - c.p:g} after one update "
                  f"(tolerance {c.tolerance:g}, {c.n_probes} probes); at_least: capped at --n-max")
    if plot is not None and not args.csv:
        print(f"plot written to {plot}")
    return 0


def _plot(path: pathlib.Path, b, h, c) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report.energy import boltzmann_figure, capacity_figure, hopfield_figure
    panels = [(f, r) for f, r in ((boltzmann_figure, b), (hopfield_figure, h), (capacity_figure, c))
              if r is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, (f, r) in zip(axes[0], panels):
        f(r, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
