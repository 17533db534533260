"""Report section: information flow at inference and Granger causality, on the embedded model.

Uses ``builtin:gpt`` (the embedded GPT-2; small enough for seconds on a CPU) and passages of the
report's corpus: per-token information density of a generated continuation, I(X; Y^n) over a prompt
set with the sub-martingale test, answer posteriors along reasoning paths, the logit lens, attention
heads read as a VAR (mean lag per head, checked by reconstruction) and Pearl's ladder on the
confounded SCM. ``ctx.fast`` shrinks every sample.
"""

from __future__ import annotations

import numpy as np

from .core import ReportContext, Section, esc, figure_html, table_html

MODEL = "builtin:gpt"


def _passages(ctx: ReportContext, k: int, n_bytes: int) -> list[str]:
    """k passages of about n_bytes each, evenly spaced through the corpus, starting after a space."""
    text = " ".join(ctx.text().decode("utf-8", errors="replace").split())
    starts = np.linspace(0, max(0, len(text) - n_bytes), k + 2)[1:-1].astype(int)
    out = []
    for s in starts:
        s = text.find(" ", s) + 1 if text.find(" ", s) >= 0 else s
        out.append(text[s:s + n_bytes].strip() or text[:n_bytes])
    return out


def build(ctx: ReportContext) -> Section:
    from ..flow import (ConfoundedSCM, answer_information, attention_var, granger, information_flow,
                   linear_granger, logit_lens, pca_trajectory, prompt_information, residual_streams,
                   submartingale_test)
    from ..flow.plots import answer_figure, density_figure, lens_figure

    fast = ctx.fast
    model = ctx.model(MODEL)
    parts, data = [], {"model": MODEL}
    prompts = _passages(ctx, 4 if fast else 8, 120)
    n_gen = 12 if fast else 32

    # 1. prompt -> response
    ctx.log("flow: information density")
    flow = information_flow(model, prompts[0], n_tokens=n_gen, prompts=prompts, seed=ctx.seed)
    sub = submartingale_test(model, prompts[0], n_gen, n_samples=8 if fast else 48, prompts=prompts,
                             seed=ctx.seed + 1)
    info = prompt_information(model, prompts, 8 if fast else 24, n_samples=3 if fast else 12,
                              seed=ctx.seed + 2)
    data.update(total_bits=flow.total_bits, submartingale_verdict=sub.verdict,
                mean_S_n_bits=sub.total.value, mean_S_n_stderr=sub.total.stderr,
                prompt_information_bits=info.value, prompt_information_stderr=info.stderr)
    top = np.argsort(-flow.info_density_bits)[:8]
    parts.append("<h3>Prompt &rarr; response information density</h3>"
                 f"<p>Prompt (from the corpus): <code>{esc(prompts[0])}</code>. The marginal is the "
                 f"exact mixture over {len(prompts)} corpus prompts with equal weights. "
                 f"S<sub>n</sub> = {flow.total_bits:.3f} bits over {len(flow.tokens)} generated "
                 "tokens.</p>" + figure_html(density_figure(flow), alt="information density") +
                 table_html([{"t": int(t) + 1, "token": flow.tokens[t],
                              "iota (bits/token)": float(flow.info_density_bits[t]),
                              "surprisal (bits/token)": float(flow.surprisal_bits[t])} for t in top],
                            caption="tokens carrying the most information about the prompt"))
    parts.append(f"<p>Sub-martingale test over {sub.n_samples} sampled continuations: "
                 f"<b>{esc(sub.verdict)}</b> (smallest z = {sub.min_z:.2f}); E S<sub>n</sub> = "
                 f"{sub.total.value:.3f} &plusmn; {sub.total.stderr:.3f} bits "
                 f"(Rao-Blackwellised: {sub.total_rao_blackwell.value:.3f} &plusmn; "
                 f"{sub.total_rao_blackwell.stderr:.3f}). I(X; Y<sup>{info.extra['n_tokens']}</sup>) "
                 f"over the prompt set = {info.value:.3f} &plusmn; {info.stderr:.3f} bits (at most "
                 f"H(X) = log<sub>2</sub> {len(prompts)} = {np.log2(len(prompts)):.3f} bits).</p>")

    # 2. answer
    ctx.log("flow: answer posteriors")
    ans = answer_information(model, "Q: Is a Python list mutable? Think, then answer yes or no.\n",
                             [" yes", " no"], n_paths=2 if fast else 8, n_tokens=6 if fast else 16,
                             seed=ctx.seed)
    data.update(answer_max_abs_z=ans.max_abs_z, answer_mean_tv_departure=ans.mean_tv_departure)
    parts.append("<h3>Information about an answer</h3><p>Forced-answer posteriors after each reasoning "
                 f"token (cue <code>\\nAnswer:</code>), {ans.posterior.shape[0]} sampled paths. "
                 f"Martingale diagnostic: max |z| = {ans.max_abs_z:.2f} (p = "
                 f"{ans.martingale_pvalue:.3g}), mean total-variation departure of the averaged "
                 f"posterior from &pi;<sub>0</sub> = {ans.mean_tv_departure:.4f}.</p>"
                 + figure_html(answer_figure(ans), alt="answer posteriors"))

    # 3. lens and attention
    ctx.log("flow: logit lens and attention VAR")
    passage = _passages(ctx, 1, 80 if fast else 200)[0]
    lens = logit_lens(model, passage)
    data["lens_mean_kl_bits"] = [float(v) for v in lens.kl_to_final_bits.mean(axis=1)]
    parts.append("<h3>Through the layers: logit lens</h3>"
                 + figure_html(lens_figure(lens), alt="logit lens heat-map")
                 + table_html([{"layer": l, "mean entropy (bits/token)": float(lens.entropy_bits[i].mean()),
                                "mean KL to final (bits/token)": float(lens.kl_to_final_bits[i].mean()),
                                "top-1 agrees with final": float((lens.final_token_rank[i] == 0).mean())}
                               for i, l in enumerate(lens.layers)]))
    av = attention_var(model, passage)
    T = av.alpha.shape[-1]
    lag = (av.alpha * (np.arange(T)[:, None] - np.arange(T)[None, :])).sum(-1).mean(-1)     # (L, H)
    data["attention_reconstruction_error"] = av.max_reconstruction_error
    parts.append("<h3>Attention as a time-varying VAR</h3><p>Head outputs rebuilt from "
                 "A<sub>ij</sub> = &alpha;<sub>ij</sub> W<sub>O</sub>W<sub>V</sub> match the model to "
                 f"{av.max_reconstruction_error:.1e} (max abs). Mean lag i &minus; j weighted by "
                 "&alpha; per head:</p>"
                 + table_html([{"layer": l, **{f"head {h}": float(lag[l, h]) for h in range(lag.shape[1])}}
                               for l in range(lag.shape[0])]))

    ctx.log("flow: linear Granger on hidden-state trajectories")
    long_ids = model.tokenizer.encode(_passages(ctx, 1, 600 if fast else 4000)[0])
    long_ids = long_ids[: (64 if fast else 255) - len(model.prefix)]
    H = residual_streams(model, long_ids)                                # (L+1, T, d)
    emb = pca_trajectory(H[0], 3)
    rows = []
    for l in range(1, H.shape[0]):
        h = pca_trajectory(H[l], 3)
        fwd, back = linear_granger(h, emb, order=2), linear_granger(emb, h, order=2)
        rows.append({"layer l": l, "TE h_l -> tokens (bits/step)": fwd.value, "stderr": fwd.stderr,
                     "p": fwd.pvalue, "TE tokens -> h_l (bits/step)": back.value,
                     "stderr ": back.stderr, "p ": back.pvalue})
    data["linear_granger_h_to_tokens_bits"] = [float(r["TE h_l -> tokens (bits/step)"]) for r in rows]
    parts.append("<h3>Next-token prediction as Granger causality (linear)</h3><p>Over the positions "
                 f"of a {H.shape[1]}-token passage: first 3 principal components of each layer's "
                 "residual stream h_l and of the token embeddings; Gaussian transfer entropy of VAR(2) "
                 "models (F / likelihood-ratio p-values). The state at t-1 carries the prediction of "
                 "token t, so h_l Granger-causes the token stream.</p>" + table_html(rows))

    # 4. Pearl's ladder
    ctx.log("flow: Pearl's ladder")
    scm = ConfoundedSCM()
    lad = scm.ladder()
    n = 4000 if fast else 40_000
    x, y, _ = scm.sample(n, seed=ctx.seed)
    xd, yd, _ = scm.sample(n, seed=ctx.seed + 1, intervened=True)
    g = granger(x, y, order=1, surrogates=19 if fast else 99, seed=ctx.seed)
    gd = granger(xd, yd, order=1, surrogates=19 if fast else 99, seed=ctx.seed)
    data.update(pearl_te_bits=lad.transfer_entropy_bits, pearl_ace=lad.average_causal_effect,
                pearl_granger_bits=g.value, pearl_granger_do_bits=gd.value)
    parts.append("<h3>Granger is rung 1: a hidden confounder</h3><p>Z hidden Markov chain, X and Y "
                 "noisy readings of it, no arrow X &rarr; Y (docs/flow.md).</p>" + table_html([
                     {"quantity": "transfer entropy I(Y_t; X_{t-1} | Y_{t-1}) (bits/step)",
                      "exact": lad.transfer_entropy_bits, "estimate": f"{g.value:.4f} ± {g.stderr:.4f}",
                      "p-value": g.pvalue},
                     {"quantity": "same under do(X ~ coin) (bits/step)",
                      "exact": lad.intervened_transfer_entropy_bits,
                      "estimate": f"{gd.value:.4f} ± {gd.stderr:.4f}", "p-value": gd.pvalue},
                     {"quantity": "P(Y=1|X=1) - P(Y=1|X=0)", "exact": lad.observational_difference,
                      "estimate": "", "p-value": None},
                     {"quantity": "average causal effect", "exact": lad.average_causal_effect,
                      "estimate": "", "p-value": None}]))
    return Section(title="Information flow and Granger causality", html="\n".join(parts), key="flow",
                   data=data)
