"""`seminfo embed`: static embeddings against PMI, and the geometry of embedding spaces.

Four analyses, each one library call: ``pmi`` (the share of the corpus PMI captured by its rank-d
truncated SVD, seminfo.embed.pmi_embedding), ``model`` (how much of it the model's embedding inner
products explain, beside the PMI-SVD optimum of the same rank, seminfo.embed.model_pmi_fit), ``gw``
(Gromov-Wasserstein discrepancy between the model's input embeddings and the PMI-SVD vectors of the same
tokens, or another model's embeddings) and ``dimension`` (TwoNN intrinsic dimension of the embedding
matrices and of the hidden states at every layer). Each prints a table, or JSON with --json, and writes
a PNG with --plot.
"""

from __future__ import annotations

import argparse
import pathlib

from ._common import (add_load_options, check_float, check_input_file, check_int, check_output,
                      check_seed, examples, open_model, print_table, to_json)

_CMD = "seminfo embed"

#: Library parameter -> the flag that feeds it (for error messages).
FLAGS = {"data": "--text", "text": "--text", "window": "--window", "directed": "--directed",
         "dim": "--dim", "dims": "--dim", "shift": "--shift", "max_tokens": "--max-tokens",
         "max_vocab": "--max-vocab", "max_points": "--max-points", "seed": "--seed", "model": "--model",
         "tokenizer": "--model", "spec": "--model", "device": "--device", "X": "--model", "Y": "--other"}

ANALYSES = ("pmi", "model", "gw", "dimension")

#: Tokens counted by default (pmi, model, gw), and hidden states used by default (dimension).
COUNT_TOKENS = 2_000_000
DIMENSION_TOKENS = 512

#: Default ranks of `seminfo embed pmi` (those above the vocabulary are dropped).
DEFAULT_DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "embed", help="static embeddings vs PMI (PMI-SVD, model vs PMI), GW distance, intrinsic dimension",
        description=(
            "pmi: counts token pairs within --window of each other in --text (tokenized by --model's "
            "tokenizer), forms the positive PMI matrix (shifted by log2 --shift) and prints the share of "
            "its squared Frobenius norm captured by the rank-d truncated SVD for each --dim: by "
            "Eckart-Young no rank-d factorisation can capture more. model: the share explained by the "
            "best fit a<e_i, e_j> + b of the model's input, output and input-output embedding inner "
            "products, beside the rank-(m+1) PMI-SVD optimum (m = embedding width), which bounds it. "
            "gw: Gromov-Wasserstein discrepancy (distances divided by their mean, so 0 = isometric) "
            "between the model's input embeddings of the --max-points most frequent tokens and their "
            "PMI-SVD vectors of rank m, or the input embeddings of --other, beside the same points against an "
            "isotropic Gaussian cloud as a reference. dimension: TwoNN intrinsic "
            "dimension of the embedding matrices and of the hidden states of --text at every layer. "
            "Without --text the embedded corpus is used (training split for counting, validation split "
            "for hidden states)."),
        epilog=examples("seminfo embed pmi --model builtin:ngram --text notes.txt --dim 4 --dim 16 "
                        "--plot pmi.png",
                        "seminfo embed model --model builtin:gpt --text notes.txt --json",
                        "seminfo embed gw --model builtin:gpt --text notes.txt --max-points 100 --json",
                        "seminfo embed dimension --model builtin:gpt --text notes.txt --plot dims.png"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("analysis", choices=ANALYSES, metavar="ANALYSIS",
                   help="pmi, model, gw or dimension")
    p.add_argument("--model", default="builtin:gpt",
                   help="model (or, for pmi, just its tokenizer): builtin:gpt, builtin:smollm2, "
                        "builtin:ngram (pmi only), a model directory or an offline hub name "
                        "(default builtin:gpt)")
    p.add_argument("--text", type=pathlib.Path, default=None,
                   help="UTF-8 text file (default: the embedded training corpus)")
    p.add_argument("--window", type=int, default=2, help="tokens on each side counted as co-occurring "
                                                         "(default 2)")
    p.add_argument("--directed", action="store_true",
                   help="count only (earlier, later) pairs: rows predict columns, as next-token logits do")
    p.add_argument("--shift", type=float, default=1.0,
                   help="k of the shifted PPMI max(PMI - log2 k, 0) (default 1: plain PPMI)")
    p.add_argument("--dim", type=int, action="append", dest="dims", metavar="D",
                   help="rank of the PMI-SVD (repeatable; pmi: default 1, 2, 4, ..., 256)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help="tokens of the text counted (default 2,000,000); dimension: tokens whose hidden "
                        "states are the points (default 512)")
    p.add_argument("--max-vocab", type=int, default=4096,
                   help="model: restrict to the most frequent tokens (default 4096)")
    p.add_argument("--max-points", type=int, default=1000,
                   help="gw and dimension: points drawn from each space (default 1000)")
    p.add_argument("--other", default=None, metavar="SPEC",
                   help="gw: a second model whose input embeddings to compare with")
    p.add_argument("--seed", type=int, default=0, help="seed of the SVD start and the subsamples")
    p.add_argument("--plot", type=pathlib.Path, metavar="PATH", help="write a figure as PNG")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_load_options(p)
    p.set_defaults(func=run, flags=FLAGS)


# ---------------------------------------------------------------------------------------------------

def _data(args: argparse.Namespace):
    """The corpus: the --text file's bytes, or the embedded training corpus."""
    if args.text is None:
        from ..models.builtin import corpus_path
        return corpus_path("train")
    return args.text


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> None:
    plt = _figure()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _pmi(args, model, plot) -> dict:
    from ..embed.pmi import cooccurrence, pmi_embedding
    co = cooccurrence(_data(args), tokenizer=model, window=args.window, directed=args.directed,
                      max_tokens=args.max_tokens or COUNT_TOKENS)
    K = co.vocab_size
    dims = sorted(set(args.dims)) if args.dims else [d for d in DEFAULT_DIMS if d <= K]
    emb = pmi_embedding(co, dim=dims[-1], shift=args.shift, seed=args.seed)
    rows = [{"dim": d, "captured": float(emb.captured_by_rank[d - 1]),
             "singular_value_bits": float(emb.singular_values[d - 1])} for d in dims]
    if plot is not None:
        plt = _figure()
        fig, ax = plt.subplots(figsize=(5, 3.4))
        r = range(1, emb.dim + 1)
        ax.plot(list(r), emb.captured_by_rank, "-", lw=1.5)
        ax.plot([x["dim"] for x in rows], [x["captured"] for x in rows], "o", ms=4)
        ax.set_xscale("log")
        ax.set_xlabel("rank d")
        ax.set_ylabel("share of ||PPMI||_F^2 captured")
        ax.set_title(f"PMI-SVD optimum (Eckart-Young), window {co.window}")
        _save(fig, plot)
    return {"analysis": "pmi", "model": str(args.model), "counts": co.as_dict(), "shift": emb.shift,
            "frobenius_sq_bits2": emb.frobenius_sq, "method": emb.method, "rows": rows,
            "legend": "captured: share of the squared Frobenius norm of the (shifted) PPMI matrix captured "
                      "by its rank-d truncated SVD, the largest any rank-d matrix can capture"}


def _model(args, model, plot) -> dict:
    from ..embed.pmi import model_pmi_fit
    fit = model_pmi_fit(model, _data(args), window=args.window, directed=args.directed, shift=args.shift,
                        max_vocab=args.max_vocab, max_tokens=args.max_tokens or COUNT_TOKENS, seed=args.seed)
    rows = [{"inner_product": r["inner_product"], "share": r["share"], "optimum_rank_m+1": r["optimum"],
             "r_observed": r["r_observed"], "scale": r["scale"], "offset_bits": r["offset_bits"]}
            for r in fit.rows]
    if plot is not None:
        plt = _figure()
        fig, ax = plt.subplots(figsize=(5, 3.4))
        ax.axhline(fit.optimum, ls="--", c="grey", lw=1, label=f"PMI-SVD optimum, rank {fit.embedding_dim + 1}")
        ax.bar([r["inner_product"] for r in rows], [r["share"] for r in rows], color="C0",
               label="model inner products (best a<e,f> + b)")
        ax.set_ylabel("share of ||PPMI||_F^2 explained")
        ax.set_ylim(0, max(1e-3, fit.optimum) * 1.15)
        ax.set_title(f"{fit.model}: embeddings vs corpus PMI ({fit.n_tokens} tokens)")
        ax.legend(fontsize=7)
        _save(fig, plot)
    return {"analysis": "model", "model": fit.model, "embedding_dim": fit.embedding_dim,
            "n_tokens": fit.n_tokens, "tied": fit.tied, "optimum": fit.optimum,
            "optimum_same_rank": fit.optimum_same_rank, "window": args.window, "directed": args.directed,
            "shift": fit.shift, "rows": rows, "extra": fit.extra,
            "legend": "share = 1 - min_{a,b} ||M - a G - b||_F^2 / ||M||_F^2 for M the PPMI matrix of the "
                      "most frequent tokens and G the inner products; it never exceeds optimum_rank_m+1 "
                      "(Eckart-Young). r_observed: correlation of plain PMI with G over co-occurring pairs"}


def _gw(args, model, plot) -> dict:
    from ..embed.geometry import embedding_matrices, gromov_wasserstein
    from ..embed.pmi import _subset, cooccurrence, pmi_embedding
    E, _ = embedding_matrices(model)
    if args.other is not None:
        other = open_model(args.other, args, "internals", command=_CMD)
        E2, _ = embedding_matrices(other)
        r = gromov_wasserstein(E, E2, max_points=args.max_points, seed=args.seed)
        against = f"input embeddings of {getattr(other, 'name', args.other)}"
    else:
        co = cooccurrence(_data(args), tokenizer=model, window=args.window, directed=args.directed,
                          vocab_size=E.shape[0], max_tokens=args.max_tokens or COUNT_TOKENS)
        ids = _subset(co.counts, args.max_points)
        if ids.size < 3:
            from ..errors import InputError
            raise InputError(f"The `--text` option of {_CMD} must give at least 3 distinct tokens for the gw "
                             f"analysis. Got {ids.size}.")
        sub = co.counts[ids][:, ids]
        d = min(E.shape[1], ids.size - 1)
        V = pmi_embedding(sub, dim=d, shift=args.shift, seed=args.seed).vectors
        r = gromov_wasserstein(E[ids], V, max_points=args.max_points, seed=args.seed, paired=True)
        against = f"rank-{d} PMI-SVD vectors of the same {ids.size} most frequent tokens"
    # a reference: the same embeddings against an isotropic Gaussian cloud of the same size and width
    from .._validate import as_rng
    A = E if args.other is not None else E[ids]
    null = as_rng(args.seed, _CMD).standard_normal(A.shape)
    r0 = gromov_wasserstein(A, null, max_points=args.max_points, seed=args.seed, paired=False)
    name = f"input embeddings of {getattr(model, 'name', args.model)}"
    rows = [{"space_a": name, "space_b": sb, "gw_distance": x.distance, "gw_metric": x.metric,
             "points": f"{x.n_points[0]} x {x.n_points[1]}", "converged": x.converged}
            for sb, x in ((against, r), ("isotropic Gaussian cloud of the same shape (reference)", r0))]
    if plot is not None:
        plt = _figure()
        fig, ax = plt.subplots(figsize=(5, 3.4))
        ax.bar(["vs " + ("other model" if args.other else "PMI-SVD"), "vs Gaussian (reference)"],
               [r.metric, r0.metric])
        ax.set_ylabel("0.5 sqrt(GW) (mean distances)")
        ax.set_title("Gromov-Wasserstein: " + against[:60], fontsize=8)
        _save(fig, plot)
    return {"analysis": "gw", "model": str(getattr(model, "name", args.model)), "rows": rows,
            "units": r.units, "method": r.method, "paired": r.paired,
            "legend": "gw_distance: min over couplings of sum (C1_ik - C2_jl)^2 T_ij T_kl with distances "
                      "divided by their mean (0 = isometric); gw_metric = 0.5 sqrt(gw_distance); the second row is a "
                      "reference: the same points against a structureless Gaussian cloud"}


def _dimension(args, model, plot) -> dict:
    import numpy as np

    from ..embed.geometry import embedding_matrices, intrinsic_dimension, layer_intrinsic_dimension
    from .._validate import as_rng
    E, W = embedding_matrices(model)
    rng = as_rng(args.seed, _CMD)
    take = rng.choice(E.shape[0], size=min(args.max_points, E.shape[0]), replace=False)
    spaces = [("input embeddings", E[take])] + ([] if W is E else [("output embeddings", W[take])])
    rows = []
    for name, X in spaces:
        e = intrinsic_dimension(X)
        rows.append({"space": name, "dimension": e.value, "stderr": e.stderr, "points": e.n,
                     "ambient": int(X.shape[1])})
    if args.text is None:
        from ..models.builtin import corpus_path
        text = corpus_path("valid").read_text(encoding="utf-8")[:20_000]
    else:
        text = args.text.read_text(encoding="utf-8")
    layers = layer_intrinsic_dimension(model, text, max_tokens=args.max_tokens or DIMENSION_TOKENS)
    for layer, d, s, u in zip(layers.layers, layers.dimension, layers.stderr, layers.n_unique):
        rows.append({"space": f"hidden states, layer {layer}", "dimension": float(d), "stderr": float(s),
                     "points": int(u), "ambient": layers.width})
    if plot is not None:
        plt = _figure()
        fig, ax = plt.subplots(figsize=(5, 3.4))
        ax.errorbar(layers.layers, layers.dimension, yerr=2 * np.asarray(layers.stderr), fmt="o-", ms=4)
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("TwoNN intrinsic dimension")
        ax.set_title(f"{layers.model}: {layers.n_tokens} tokens, width {layers.width}")
        _save(fig, plot)
    return {"analysis": "dimension", "model": layers.model, "units": "dimensions", "rows": rows,
            "n_tokens": layers.n_tokens,
            "legend": "TwoNN maximum-likelihood intrinsic dimension (Facco et al. 2017) with its standard "
                      "error; points = distinct points used"}


def run(args: argparse.Namespace) -> int:
    from ..embed.pmi import MAX_WINDOW
    # every flag is checked before a model is loaded
    if args.text is not None:
        check_input_file(args.text, "--text", _CMD, text=args.analysis == "dimension", nonempty=True)
    check_int(args.window, "--window", _CMD, minimum=1, maximum=MAX_WINDOW)
    check_float(args.shift, "--shift", _CMD, minimum=0.0, strict_min=True)
    for d in args.dims or []:
        check_int(d, "--dim", _CMD, minimum=1, maximum=65_536)
    if args.max_tokens is not None:
        check_int(args.max_tokens, "--max-tokens", _CMD, minimum=3, maximum=100_000_000)
    check_int(args.max_vocab, "--max-vocab", _CMD, minimum=2, maximum=1 << 20)
    check_int(args.max_points, "--max-points", _CMD, minimum=3, maximum=5000)
    check_seed(args.seed, _CMD)
    if args.other is not None and args.analysis != "gw":
        from ..errors import InputError
        raise InputError(f"The `--other` option of {_CMD} applies to the gw analysis only. Got it with "
                         f"{args.analysis!r}.")
    plot = None if args.plot is None else check_output(args.plot, "--plot", _CMD)
    needs = () if args.analysis == "pmi" else ("internals",)
    model = open_model(args.model, args, *needs, command=_CMD)
    out = {"pmi": _pmi, "model": _model, "gw": _gw, "dimension": _dimension}[args.analysis](args, model, plot)
    if args.json:
        print(to_json(out))
    else:
        print_table(out["rows"])
        print(f"\n{out['legend']}" + (f"; plot written to {plot}" if plot is not None else ""))
    return 0
