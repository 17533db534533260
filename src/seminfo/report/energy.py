"""Report section: the LLM as an energy-based model (docs/energy.md).

Three figures: (1) Boltzmann statistics of the main model's next-token distributions over a
temperature sweep (mean entropy and heat capacity per token, with the heat-capacity peak);
(2) attention heads of ``builtin:gpt`` read as modern Hopfield steps: the share of positions where
the pure update (keys as values) and the real head output lower the Hopfield energy of the query;
(3) one-step memory capacity against dimension for the modern network (several beta) and the
classical Hebbian network, beside Ramsauer et al.'s Theorem 3 bound and 0.138 d.

The figure builders (:func:`boltzmann_figure`, :func:`hopfield_figure`, :func:`capacity_figure`)
are also used by ``seminfo energy --plot``. ``ctx.fast`` keeps the section to a few seconds.
"""

from __future__ import annotations

import numpy as np

from .core import ReportContext, Section, esc, figure_html, table_html

#: The model whose attention heads are read (GPT-2 family; a few seconds on a CPU).
HOPFIELD_MODEL = "builtin:gpt"


def boltzmann_figure(r, ax=None):
    """Mean entropy (bits/token) and heat capacity per token against T (log axis); returns the figure."""
    import matplotlib.pyplot as plt
    fig, ax = (plt.subplots(figsize=(5, 3.4)) if ax is None else (ax.figure, ax))
    T = r.temperatures
    ax.plot(T, r.entropy.mean(axis=1), "o-", ms=2.5, label="entropy S (bits/token)")
    ax.plot(T, r.heat_capacity.mean(axis=1), "s-", ms=2.5, label="heat capacity C = Var(E)/T²")
    ax.axvline(1.0, c="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("temperature T (T = 1: the model)")
    ax.set_ylabel("mean over tokens")
    ax.set_title(f"Boltzmann view, {r.model} ({r.n_tokens} tokens)", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def hopfield_figure(r, ax=None):
    """Per-head shares: pure update non-increasing, real output below E(q) and below E(0)."""
    import matplotlib.pyplot as plt
    fig, ax = (plt.subplots(figsize=(5.5, 3.4)) if ax is None else (ax.figure, ax))
    L, H = r.share_pure_nonincreasing.shape
    x = np.arange(L * H)
    w = 0.28
    ax.bar(x - w, r.share_pure_nonincreasing.ravel(), w, label="pure update: E did not rise")
    ax.bar(x, r.share_real_decreased.ravel(), w, label="real head: E(o) < E(q)")
    ax.bar(x + w, r.share_real_below_origin.ravel(), w, label="real head: E(o) < E(0)")
    ax.set_xticks(x, [f"{l}.{h}" for l in range(L) for h in range(H)], fontsize=6, rotation=90)
    ax.set_xlabel("layer.head")
    ax.set_ylabel("share of positions")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"attention as Hopfield descent ({r.architecture}, {r.delta_pure.shape[-1]} positions)",
                 fontsize=9)
    ax.legend(fontsize=6, loc="lower right")
    return fig


def capacity_figure(c, ax=None):
    """Capacity against d (log y): modern (per beta), classical, Theorem 3 bound, 0.138 d."""
    import matplotlib.pyplot as plt
    fig, ax = (plt.subplots(figsize=(5, 3.6)) if ax is None else (ax.figure, ax))
    d = c.dims
    for i, b in enumerate(c.betas):
        line, = ax.plot(d, c.modern[i], "o-", ms=3, label=f"modern, beta={b:g}")
        cens = c.modern_censored[i]
        if cens.any():
            ax.plot(d[cens], c.modern[i][cens], "^", ms=6, c=line.get_color())
        th = np.where(c.theorem3[i] > 0, c.theorem3[i], np.nan)      # 0: the theorem guarantees nothing
        if np.isfinite(th).any():
            ax.plot(d, th, "--", lw=1, c=line.get_color(), label=f"Thm 3 bound, beta={b:g}")
    ax.plot(d, np.maximum(c.classical, 0.5), "ks-", ms=3, label="classical (Hebbian)")
    ax.plot(d, c.classical_0138, "k:", lw=1, label="0.138 d")
    ax.set_yscale("log")
    ax.set_xlabel("dimension d")
    ax.set_ylabel(f"patterns stored (share >= {1 - c.p:g})")
    ax.set_title("one-step memory capacity (▲: at least, N capped)", fontsize=9)
    ax.legend(fontsize=6)
    return fig


def _passage(ctx: ReportContext, n_bytes: int) -> str:
    text = " ".join(ctx.text().decode("utf-8", errors="replace").split())
    return text[:n_bytes]


def build(ctx: ReportContext) -> Section:
    """Section "The LLM as an energy-based model" (a few seconds with ctx.fast)."""
    from ..energy import boltzmann, hopfield_capacity, hopfield_descent
    from ..errors import SeminfoError
    fast = ctx.fast
    data: dict = {}
    parts = []

    # 1. Boltzmann statistics
    ctx.log("energy: Boltzmann statistics")
    spec = ctx.models[0]
    temps = np.geomspace(0.1, 10.0, 21 if fast else 41)
    try:
        model = ctx.model(spec)
        b = boltzmann(model, _passage(ctx, 2000), temps, max_tokens=96 if fast else 512)
    except SeminfoError as exc:                      # e.g. a masked-diffusion main model
        spec = "builtin:ngram"
        parts.append(f"<p><em>{esc(ctx.models[0])} cannot be scored left to right ({esc(exc)}); "
                     "builtin:ngram is used.</em></p>")
        b = boltzmann(ctx.model(spec), _passage(ctx, 2000), temps, max_tokens=96 if fast else 512)
    t_peak, c_peak = b.peak()
    k1 = int(np.argmin(np.abs(b.temperatures - 1.0)))
    data["boltzmann"] = b.summary()
    rows = [{"T": float(T), "F (nats/token)": float(b.free_energy[k].mean()),
             "U (nats/token)": float(b.mean_energy[k].mean()), "S (bits/token)": float(b.entropy[k].mean()),
             "C": float(b.heat_capacity[k].mean())}
            for k, T in enumerate(b.temperatures) if k % (4 if fast else 8) == 0 or k == k1]
    parts.append(
        "<h3>Boltzmann view of next-token prediction</h3>"
        f"<p>Energy E(v) = -ln p(v | context) of {esc(spec)} on {b.n_tokens} tokens of the corpus, "
        "heated or cooled to p<sub>T</sub> &prop; exp(-E/T). F = -T ln Z, U = &lt;E&gt;, S = (U - F)/T "
        "(bits), C = Var(E)/T&sup2;. In this gauge F = 0 at T = 1; raw logits shift F and U by one "
        f"constant per position and leave S and C unchanged. At T = 1 the mean entropy is "
        f"{b.entropy[k1].mean():.4f} bits/token (the predictive entropy scoring reports). The heat "
        f"capacity peaks at a median T of {np.median(t_peak):.3g} (mean peak C = {np.mean(c_peak):.3g}).</p>"
        + figure_html(boltzmann_figure(b), alt="Boltzmann statistics")
        + table_html(rows, caption="Means over tokens at selected temperatures"))

    # 2. Hopfield descent of real heads
    ctx.log("energy: attention as Hopfield descent")
    try:
        gpt = ctx.model(HOPFIELD_MODEL)
        ids = gpt.tokenizer.encode(_passage(ctx, 1200))[: 48 if fast else 200]
        h = hopfield_descent(gpt, ids)
        data["hopfield"] = {"model": HOPFIELD_MODEL, **h.summary(), "heads": h.rows()}
        s = h.summary()
        parts.append(
            "<h3>Attention as modern Hopfield descent</h3>"
            f"<p>{esc(HOPFIELD_MODEL)}, {s['n_positions']} positions. Per head and position i: stored "
            "patterns = keys k<sub>j&le;i</sub>, state = query q<sub>i</sub>, &beta; = the head's score "
            "scale; E(&xi;) = -&beta;<sup>-1</sup> ln &Sigma;<sub>j</sub> exp(&beta; k<sub>j</sub>&middot;&xi;) "
            "+ |&xi;|&sup2;/2. The pure update (keys as values) never raises E (a theorem): share "
            f"{s['share_pure_nonincreasing']:.4f}, largest relative change "
            f"{s['max_relative_increase_pure']:.3g}. The real output o<sub>i</sub> = &Sigma; &alpha;<sub>ij</sub> "
            f"v<sub>j</sub> lowers E in {s['share_real_decreased']:.3f} of positions, but beats the zero "
            f"state only in {s['share_real_below_origin']:.3f}; median descent ratio "
            f"{s['median_descent_ratio']:.3f}. The q, k, &beta; read here reproduce the model's attention "
            f"weights to {s['max_alpha_error']:.1e}.</p>"
            + figure_html(hopfield_figure(h), alt="Hopfield descent per head"))
    except SeminfoError as exc:
        parts.append(f"<h3>Attention as modern Hopfield descent</h3><p><em>Skipped: {esc(exc)}</em></p>")

    # 3. memory capacity
    ctx.log("energy: memory capacity")
    if fast:
        c = hopfield_capacity((8, 16, 24, 32), betas=(0.25, 0.5), n_probes=48, n_max=2 ** 11, seed=ctx.seed)
    else:
        c = hopfield_capacity(seed=ctx.seed)
    data["capacity"] = c.as_dict()
    parts.append(
        "<h3>Memory capacity: exponential against linear</h3>"
        f"<p>N random patterns, one update from each stored pattern, retrieved when within "
        f"{c.tolerance:g} of it (relative distance); capacity = largest N with a retrieved share &ge; "
        f"{1 - c.p:g} ({c.n_probes} probes, N &le; {c.n_max}). Modern: patterns on the sphere of radius "
        "&radic;(d-1). Classical: &plusmn;1 patterns, Hebbian weights, sign update.</p>"
        + figure_html(capacity_figure(c), alt="memory capacity")
        + table_html(c.rows(), caption="Capacity per network and dimension"))
    return Section(title="The LLM as an energy-based model", html="\n".join(parts), key="energy", data=data)
