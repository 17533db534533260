"""Report section: the foundation's exact values beside estimates from samples.

Shows that the estimators recover known truth on the built-in finite-state sources (the same table as
`seminfo demo`), the conservation law I(X^n;Y^n) = I(X^n->Y^n) + I(0*Y^{n-1}->X^n) on the feedback
channel, and how the hidden-Markov entropy-rate interval tightens with the horizon.
"""

from __future__ import annotations

from .core import ReportContext, Section, figure_html, table_html


def build(ctx: ReportContext) -> Section:
    from ..demo import builtin_sources, foundation_table
    n = 20_000 if ctx.fast else 200_000
    rows = foundation_table(n, seed=ctx.seed, hmm_horizon=8 if ctx.fast else 10)
    table = table_html([{
        "source": r.source, "quantity": r.quantity,
        "exact (bits/symbol)": (f"{r.exact:.5f}" if r.exact_lower == r.exact_upper
                                else f"[{r.exact_lower:.5f}, {r.exact_upper:.5f}]"),
        "estimate (bits/symbol)": f"{r.estimate:.5f}", "std. error": f"{r.stderr:.5f}",
        "method": r.method, "|gap| / se": f"{r.z:.2f}"} for r in rows],
        caption=f"Exact versus estimated, n = {n:,} samples per source")

    sources = builtin_sources()
    ch = sources["feedback channel"]
    horizons = [1, 2, 3, 4, 5, 6] if ctx.fast else [1, 2, 3, 4, 5, 6, 7, 8]
    cons = []
    for h in horizons:
        di, rdi, mi = ch.directed_information(h), ch.reverse_directed_information(h), ch.mutual_information(h)
        cons.append({"n": h, "I(X^n->Y^n) (bits, total)": di, "I(0*Y^{n-1}->X^n) (bits, total)": rdi,
                     "I(X^n;Y^n) (bits, total)": mi, "|MI - DI - reverse DI|": f"{abs(mi - di - rdi):.1e}"})
    cons_html = table_html(cons, caption="Conservation law on the feedback channel (exact, totals)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    hmm = sources["hidden Markov (2 states, 3 symbols)"]
    hs = list(range(1, 9 if ctx.fast else 11))
    iv = [hmm.entropy_rate_interval(horizon=h) for h in hs]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.fill_between(hs, [i.lower for i in iv], [i.upper for i in iv], alpha=0.3, label="certified interval")
    ax.plot(hs, [i.lower for i in iv], "o-", ms=3, label="H(Y_n | Y^{n-1}, S_1) (lower)")
    ax.plot(hs, [i.upper for i in iv], "o-", ms=3, label="H(Y_n | Y^{n-1}) (upper)")
    ax.set_xlabel("horizon n")
    ax.set_ylabel("entropy rate (bits/symbol)")
    ax.set_title("Hidden Markov source: entropy-rate bounds")
    ax.legend(fontsize=8)
    fig_html = figure_html(fig, alt="HMM entropy-rate bounds versus horizon")
    html = (
        "<p>Every estimator is trusted only after it recovers known values. Exact values come from the "
        "sources' laws (stationary distributions, forward recursions); estimates come from samples and carry "
        "a standard error. The last column is the distance from the exact value (or interval) in standard "
        "errors.</p>" + table + cons_html + fig_html)
    data = {"rows": [r.as_dict() for r in rows], "conservation": cons,
            "hmm_interval": [(h, i.lower, i.upper) for h, i in zip(hs, iv)]}
    return Section("Foundation: exact values and estimates", html, key="foundation", data=data)
