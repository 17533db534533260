"""Figures of the information-flow results (matplotlib, imported lazily, Agg backend).

Each function takes a result object and returns a matplotlib Figure; the CLI saves them as PNG and the
report inlines them. Token labels are shown as given (matplotlib does not interpret them as HTML).

Left out: interactive figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["density_figure", "answer_figure", "lens_figure"]


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _labels(tokens: list, limit: int = 60) -> list[str]:
    return [repr(t)[1:-1][:12] for t in tokens[:limit]]


def density_figure(flow: Any) -> Any:
    """Per-token information density iota_t and surprisal (bars) with the cumulative S_t (line), bits."""
    plt = _plt()
    n = len(flow.tokens)
    t = np.arange(1, n + 1)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.28 * n), 5.5), sharex=True)
    ax1.bar(t - 0.2, flow.surprisal_bits, width=0.4, label="surprisal -log2 p(y_t|y^{t-1},x)")
    ax1.bar(t + 0.2, flow.info_density_bits, width=0.4, label="information density iota_t")
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_ylabel("bits/token")
    ax1.legend(fontsize=8)
    ax2.plot(t, flow.cumulative_bits, marker="o", ms=3, label="S_t = sum iota")
    ax2.plot(t, np.cumsum(flow.expected_density_bits), ls="--", label="sum of D(p_t || q_t)")
    ax2.set_ylabel("bits (total)")
    ax2.set_xlabel("response token")
    ax2.legend(fontsize=8)
    if n <= 60:
        ax2.set_xticks(t)
        ax2.set_xticklabels(_labels(flow.tokens), rotation=90, fontsize=7)
    fig.suptitle(f"Prompt -> response information ({flow.marginal} marginal)")
    fig.tight_layout()
    return fig


def answer_figure(ans: Any) -> Any:
    """Posterior pi_t(a) per path (thin) and averaged (thick), and the posterior entropy H_t in bits."""
    plt = _plt()
    S, T1, A = ans.posterior.shape
    t = np.arange(T1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for a in range(A):
        c = colors[a % len(colors)]
        for s in range(S):
            ax1.plot(t, ans.posterior[s, :, a], color=c, alpha=0.25, lw=0.8)
        ax1.plot(t, ans.posterior[:, :, a].mean(axis=0), color=c, lw=2.2, label=str(ans.answers[a])[:20])
    ax1.set_xlabel("reasoning tokens t")
    ax1.set_ylabel("pi_t(a)")
    ax1.set_title("forced-answer posterior")
    ax1.legend(fontsize=8)
    for s in range(S):
        ax2.plot(t, ans.entropy_bits[s], alpha=0.5)
    ax2.plot(t, ans.entropy_bits.mean(axis=0), color="k", lw=2, label="mean")
    ax2.set_xlabel("reasoning tokens t")
    ax2.set_ylabel("H(A | x, y^t) [bits]")
    ax2.set_title("posterior entropy")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lens_figure(lens: Any, *, value: str = "kl_to_final_bits") -> Any:
    """Heat-map over (layer, position) of a lens statistic (default D(p_L || p_l) in bits)."""
    plt = _plt()
    data = getattr(lens, value)
    T = data.shape[1]
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * T), 0.5 * len(lens.layers) + 2))
    im = ax.imshow(data, aspect="auto", origin="lower", cmap="viridis")
    label = {"kl_to_final_bits": "D(p_L || p_l) [bits/token]", "entropy_bits": "H(p_l) [bits/token]",
             "final_token_rank": "rank of the final top token"}.get(value, value)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_ylabel("layer")
    ax.set_yticks(range(len(lens.layers)))
    ax.set_yticklabels(lens.layers)
    if T <= 60:
        ax.set_xticks(range(T))
        ax.set_xticklabels(_labels(lens.tokens), rotation=90, fontsize=7)
    ax.set_xlabel("position (input token; predicts the next)")
    ax.set_title(f"logit lens: {label}")
    fig.tight_layout()
    return fig
