"""Report section on semantic embedding and optimal vectorisation (theory §9).

Four figures: (1) the share of the corpus PPMI matrix captured by its rank-d truncated SVD against d
(the Eckart-Young optimum), counted with the main model's tokenizer on the embedded corpus; (2) how much
of the same matrix the main model's embedding inner products explain, beside the PMI-SVD optimum of the
same rank (skipped, with a note, for models without embedding matrices such as n-grams); (3) I_d against
d for the rank-d log-bilinear model on the sphere fitted to the exact (context, next symbol) law of a
Markov source; (4) the InfoNCE bound with the optimal and a learned critic against N, beside log2 N and
the exact I. Fast mode uses the validation split, smaller ranks and fewer samples.
"""

from __future__ import annotations

import numpy as np

from .core import ReportContext, Section, esc, figure_html, table_html


def _corpus(ctx: ReportContext) -> tuple[bytes, str]:
    """The report's corpus when it is large enough for PMI (100 kB), else the embedded corpus."""
    text = ctx.text()
    if len(text) >= 100_000:
        return text, f"the report corpus ({len(text):,} bytes)"
    from ..models.builtin import corpus_path
    split = "valid" if ctx.fast else "train"
    data = corpus_path(split).read_bytes()
    return data, f"the embedded {split} corpus ({len(data):,} bytes)"


def _tokenizer_model(ctx: ReportContext):
    """The main model when it has a tokenizer, else builtin:ngram (same 4,096-token BPE as builtin:gpt)."""
    try:
        m = ctx.model(ctx.models[0])
        if getattr(m, "tokenizer", None) is not None:
            return m, ctx.models[0]
    except Exception as exc:                                    # the model cannot be loaded here
        ctx.log(f"embedding: {ctx.models[0]} unavailable ({exc}); using builtin:ngram's tokenizer")
    return ctx.model("builtin:ngram"), "builtin:ngram"


def _pmi_figure(ctx: ReportContext, data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..embed.pmi import cooccurrence, pmi_embedding
    text, where = _corpus(ctx)
    model, name = _tokenizer_model(ctx)
    co = cooccurrence(text, tokenizer=model, window=2)
    dmax = min(64 if ctx.fast else 512, co.vocab_size - 1)
    emb = pmi_embedding(co, dim=dmax, seed=ctx.seed)
    marks = [d for d in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if d <= dmax]
    rows = [{"rank d": d, "share of ||PPMI||_F^2 captured": float(emb.captured_by_rank[d - 1]),
             "singular value s_d (bits)": float(emb.singular_values[d - 1])} for d in marks]
    data["pmi_svd"] = {"corpus": where, "tokenizer": name, "window": co.window, "n_tokens": co.n_tokens,
                       "vocab_size": co.vocab_size, "captured_by_rank": emb.captured_by_rank.tolist(),
                       "method": emb.method}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(np.arange(1, dmax + 1), emb.captured_by_rank, "-")
    ax.set_xscale("log")
    ax.set_xlabel("rank d")
    ax.set_ylabel("share of ||PPMI||_F^2 captured")
    ax.set_title(f"PMI-SVD, window 2, {co.n_tokens:,} tokens", fontsize=10)
    return (f"<p>Positive PMI of token pairs within 2 positions in {esc(where)}, tokenized by "
            f"{esc(name)} ({co.vocab_size:,} tokens). By Eckart-Young no rank-d matrix captures more than "
            "the truncated SVD.</p>" + figure_html(fig, alt="PMI captured against rank")
            + table_html(rows, caption="Share captured at selected ranks"))


def _model_figure(ctx: ReportContext, data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..embed.pmi import model_pmi_fit
    from ..models.capability import capabilities
    name = ctx.models[0]
    try:
        model = ctx.model(name)
    except Exception as exc:
        return f"<p><em>{esc(name)} could not be loaded ({esc(exc)}).</em></p>"
    if "internals" not in capabilities(model):
        return (f"<p><em>{esc(name)} has no embedding matrices (no internals); this comparison needs a "
                "neural model such as builtin:gpt.</em></p>")
    text, where = _corpus(ctx)
    fit = model_pmi_fit(model, text, window=2, max_vocab=1024 if ctx.fast else 4096, seed=ctx.seed)
    rows = [{"inner product": r["inner_product"], "share explained": r["share"],
             "PMI-SVD optimum (rank m+1)": r["optimum"], "r over co-occurring pairs": r["r_observed"]}
            for r in fit.rows]
    data["model_vs_pmi"] = {"model": fit.model, "corpus": where, "embedding_dim": fit.embedding_dim,
                            "n_tokens": fit.n_tokens, "tied": fit.tied, "optimum": fit.optimum,
                            "rows": fit.rows}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.bar([r["inner_product"] for r in fit.rows], [r["share"] for r in fit.rows], label="model a<e,f> + b")
    ax.axhline(fit.optimum, ls="--", c="grey", label=f"PMI-SVD optimum, rank {fit.embedding_dim + 1}")
    ax.set_ylabel("share of ||PPMI||_F^2")
    ax.set_title(f"{fit.model}: embeddings vs PMI ({fit.n_tokens:,} most frequent tokens)", fontsize=9)
    ax.legend(fontsize=7)
    return (f"<p>The best fit a&lt;e_i, f_j&gt; + b of {esc(fit.model)}'s embedding inner products (width "
            f"{fit.embedding_dim}{', tied input and output' if fit.tied else ''}) to the same PPMI matrix, on "
            f"the {fit.n_tokens:,} most frequent tokens of {esc(where)}. Its rank is at most "
            f"{fit.embedding_dim + 1}, so it cannot exceed the dashed optimum.</p>"
            + figure_html(fig, alt="model embeddings against PMI") + table_html(rows))


def _vectorization_figure(ctx: ReportContext, data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..embed.vectorize import context_joint, vectorization_curve
    from ..sources import MarkovSource
    K, order = (3, 1) if ctx.fast else (4, 2)
    src = MarkovSource.random(K, order=order, seed=ctx.seed + 3, concentration=0.5)
    J = context_joint(src)
    c = vectorization_curve(J, seed=ctx.seed, max_iter=400 if ctx.fast else 1000)
    data["vectorization"] = {"source": f"Markov K={K} order {order}", "dims": c.dims.tolist(),
                             "information_bits": c.information.tolist(), "exact_bits": c.exact,
                             "converged": c.converged.tolist()}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(c.dims, c.information, "o-", ms=4, label="I_d (unit vectors, learned tau)")
    ax.axhline(c.exact, ls="--", c="grey", label="exact I(X_{t+1}; X^t)")
    ax.set_xlabel("dimension d")
    ax.set_ylabel("bits per symbol")
    ax.set_title(f"optimal rank-d vectorisation, Markov K={K}, order {order}", fontsize=10)
    ax.legend(fontsize=7)
    rows = [{"d": int(d), "I_d (bits)": float(v), "gap to exact (bits)": c.exact - float(v),
             "converged": bool(ok)} for d, v, ok in zip(c.dims, c.information, c.converged)]
    return figure_html(fig, alt="I_d against d") + table_html(rows)


def _infonce_figure(ctx: ReportContext, data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..embed.vectorize import context_joint, infonce_curve
    from ..sources import MarkovSource
    K = 16
    P = np.full((K, K), 0.05 / (K - 1))
    P[np.arange(K), (np.arange(K) + 1) % K] = 0.95                  # a noisy cycle: I near 3.5 bits
    J = context_joint(MarkovSource(P))
    Ns = [2 ** i for i in (range(1, 13, 2) if ctx.fast else range(1, 13))]
    n = 2000 if ctx.fast else 20_000
    c = infonce_curve(J, n_negatives=Ns, n_samples=n, n_train=n, seed=ctx.seed)
    data["infonce"] = {"source": "noisy cycle K=16 (stay on course w.p. 0.95)", "exact_bits": c.exact,
                       "n_negatives": c.n_negatives.tolist(), "optimal_bits": c.optimal.tolist(),
                       "optimal_stderr": c.optimal_stderr.tolist(), "learned_bits": c.learned.tolist(),
                       "learned_stderr": c.learned_stderr.tolist()}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(c.n_negatives, c.log2_n, ":", c="grey", label="log2 N")
    ax.axhline(c.exact, ls="--", c="k", lw=1, label="exact I")
    ax.errorbar(c.n_negatives, c.optimal, yerr=2 * c.optimal_stderr, fmt="o-", ms=3, label="optimal critic")
    ax.errorbar(c.n_negatives, c.learned, yerr=2 * c.learned_stderr, fmt="s-", ms=3, label="learned critic")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, c.exact * 1.3)
    ax.set_xlabel("N (candidates per positive)")
    ax.set_ylabel("InfoNCE bound (bits)")
    ax.set_title("InfoNCE: the log N ceiling and the gap", fontsize=10)
    ax.legend(fontsize=7)
    rows = [{"N": int(N), "log2 N": float(l), "optimal critic (bits)": float(o), "se": float(os_),
             "learned critic (bits)": float(lv), "se ": float(ls), "exact I (bits)": c.exact}
            for N, l, o, os_, lv, ls in zip(c.n_negatives, c.log2_n, c.optimal, c.optimal_stderr,
                                            c.learned, c.learned_stderr)]
    return (f"<p>Monte Carlo with {n:,} positive pairs per point (± 2 standard errors); the learned critic "
            f"is a table fitted on {n:,} separate draws.</p>" + figure_html(fig, alt="InfoNCE against N")
            + table_html(rows))


def build(ctx: ReportContext) -> Section:
    """Section "Semantic embedding and optimal vectorisation" (a few seconds with ctx.fast)."""
    data: dict = {}
    parts = ["<h3>Static embeddings: PMI and its truncated SVD</h3>", _pmi_figure(ctx, data),
             "<h3>A model's embeddings against the corpus PMI</h3>", _model_figure(ctx, data),
             "<h3>Optimal vectorisation on the sphere</h3>", _vectorization_figure(ctx, data),
             "<h3>InfoNCE / CPC against the exact mutual information</h3>", _infonce_figure(ctx, data)]
    return Section(title="Semantic embedding and optimal vectorisation", html="\n".join(parts),
                   key="embedding", data=data)
