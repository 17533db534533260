"""Report section of the rate-distortion family: R(D), the loss-memory frontier, rate-reward.

Three figures: (1) the certified R(D) curve of a Zipf source under Hamming distortion; (2) the
loss-memory frontier of a Markov-2 token source with trained models placed beside it (n-grams of
orders 1-3 and, outside fast mode, tiny GPT-2 models with context 1 and 2); (3) the rate-reward
frontier of the report's main model on a verifiable reward (the response contains the letter "e"),
estimated by self-normalised importance sampling from the model's own samples, with Best-of-N
points and their KL bound. When the model cannot be sampled the third figure uses an exact
enumerable example instead and says so.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validate import as_rng
from .core import ReportContext, Section, esc, figure_html, table_html


def _rd_figure(data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..rd.blahut import rate_distortion_curve
    K = 64
    p = 1.0 / np.arange(1, K + 1)
    p /= p.sum()
    c = rate_distortion_curve(p, "hamming")
    data["rate_distortion"] = {"source": f"Zipf K={K}", "distortion": c.distortion.tolist(),
                               "rate_bits": c.rate.tolist(), "max_width_bits":
                               float(np.max(c.upper - c.lower))}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(c.distortion, c.rate, "o-", ms=2.5)
    ax.set_xlabel("Hamming distortion D (per symbol)")
    ax.set_ylabel("R(D) (bits/symbol)")
    ax.set_title(f"R(D), Zipf source K={K} ({c.distortion.size} adaptive points)")
    return (figure_html(fig, alt="rate-distortion curve")
            + f"<p>Every point is a certified interval of width at most "
              f"{esc(f'{np.max(c.upper - c.lower):.2g}')} bits; the piecewise-linear "
              f"curve is within {esc(f'{c.max_chord_error:.2g}')} bits of R(D).</p>")


def _frontier_figure(ctx: ReportContext, data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..sources import MarkovSource
    from ..rd.logloss import loss_memory_frontier, ngram_point, transformer_point
    src = MarkovSource.random(4, order=2, seed=ctx.seed + 1, concentration=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f = loss_memory_frontier(src, betas=np.geomspace(0.5, 1e3, 25 if ctx.fast else 60))
    n_train = 5_000 if ctx.fast else 30_000
    pts = [ngram_point(src, o, n_train=n_train, n_test=2_000 if ctx.fast else 8_000, seed=ctx.seed)
           for o in (1, 2, 3)]
    if not ctx.fast:
        try:
            pts += [transformer_point(src, c, steps=300, seed=ctx.seed) for c in (1, 2)]
        except ImportError as exc:                              # torch/transformers missing
            ctx.log(f"rd: transformer points skipped ({exc})")
    rows = [{"model": pt.name, "context (tokens)": pt.context, "memory (bits)": pt.memory,
             "loss (bits/token)": pt.loss.value, "stderr": pt.loss.stderr,
             "frontier loss at that memory": float(np.interp(pt.memory, f.memory, f.loss))}
            for pt in pts]
    data["loss_memory"] = {"memory_bits": f.memory.tolist(), "loss_bits_per_token": f.loss.tolist(),
                           "models": rows}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(f.memory, f.loss, "-", label="frontier (IB)")
    for pt in pts:
        ax.errorbar(pt.memory, pt.loss.value, yerr=2 * pt.loss.stderr, fmt="o", ms=4, label=pt.name)
    ax.axhline(f.entropy_rate, ls=":", c="grey", lw=1)
    ax.set_xlabel("memory about the past window (bits)")
    ax.set_ylabel("next-token log-loss (bits/token)")
    ax.set_title("loss-memory frontier, Markov-2 source, K=4")
    ax.legend(fontsize=7)
    return figure_html(fig, alt="loss-memory frontier") + table_html(
        rows, caption="Models with limited context beside the frontier (loss ± 1 standard error)")


def _reward_figure(ctx: ReportContext, data: dict) -> str:
    import matplotlib.pyplot as plt
    from ..rd.reward import best_of_n, rate_reward_curve, rate_reward_model
    slopes = np.linspace(0.0, 4.0, 9)
    note = ""
    try:
        model = ctx.model(ctx.models[0])
        tok = model.tokenizer

        def reward_fn(tokens: np.ndarray) -> np.ndarray:
            return np.array([1.0 if b"e" in tok.decode(list(map(int, row))) else 0.0 for row in tokens])
        res = rate_reward_model(model, reward_fn, slopes=slopes, n_tokens=4 if ctx.fast else 8,
                                n_samples=64 if ctx.fast else 512, seed=ctx.seed)
        rewards = res["rewards"]
        p0 = float(rewards.mean())
        # the reward is binary, so the exact frontier given P(r=1) = p0 is D(Bern(rho) || Bern(p0))
        curve = rate_reward_curve([1 - p0, p0], [0.0, 1.0], n_points=40) if 0 < p0 < 1 else None
        pts = res["points"]
        bon = res["best_of_n"]
        label = f"{ctx.models[0]}: reward = response contains 'e'"
    except Exception as exc:                                    # sampling not available
        note = f"<p><em>Model sampling unavailable ({esc(exc)}); exact enumerable example shown.</em></p>"
        rng = as_rng(ctx.seed, "report")
        p = rng.dirichlet(np.ones(16))
        r = rng.random(16)
        curve = rate_reward_curve(p, r, n_points=40)
        pts = []
        bon = [(b.n, b.kl, b.reward) for b in (best_of_n(p, r, N) for N in (2, 4, 8, 16))]
        label = "enumerable example (16 responses, random rewards)"
    rows = [{"slope (bits/reward)": pt.slope, "reward": pt.reward.value, "reward se": pt.reward.stderr,
             "rate (bits/response)": pt.rate.value, "rate se": pt.rate.stderr, "ESS": pt.ess}
            for pt in pts]
    data["rate_reward"] = {"label": label, "snis": rows,
                           "best_of_n": [{"N": n, "kl_bits": kl, "reward": rw} for n, kl, rw in bon]}
    fig, ax = plt.subplots(figsize=(5, 3.4))
    if curve is not None:
        ax.plot(curve.reward, curve.rate, "-", label="frontier R(rho)")
    if pts:
        ax.errorbar([pt.reward.value for pt in pts], [pt.rate.value for pt in pts],
                    yerr=[2 * pt.rate.stderr for pt in pts], fmt="o", ms=3, label="Gibbs (SNIS)")
    ax.plot([b[2] for b in bon], [b[1] for b in bon], "s", ms=4,
            label="Best-of-N (KL bound)" if pts else "Best-of-N (exact KL)")
    ax.set_xlabel("expected reward")
    ax.set_ylabel("KL from the reference (bits/response)")
    ax.set_title("rate-reward", fontsize=10)
    ax.legend(fontsize=7)
    return (note + f"<p>{esc(label)}</p>" + figure_html(fig, alt="rate-reward frontier")
            + (table_html(rows, caption="Self-normalised importance sampling from the model") if rows else ""))


def build(ctx: ReportContext) -> Section:
    """Section "Rate-distortion, loss-memory and rate-reward" (a few seconds with ctx.fast)."""
    data: dict = {}
    parts = ["<h3>Rate-distortion function</h3>", _rd_figure(data),
             "<h3>Loss-memory frontier</h3>", _frontier_figure(ctx, data),
             "<h3>Rate-reward frontier (post-training)</h3>", _reward_figure(ctx, data)]
    return Section(title="Rate-distortion, loss-memory and rate-reward", html="\n".join(parts),
                   key="rd", data=data)
