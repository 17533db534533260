"""Report section "Three architectures in one frame": Transformer, Mamba2 and masked diffusion side by side.

``build(ctx)`` compares builtin:gpt, builtin:mamba and builtin:diffusion (and the report's other
models) on the same bytes with :func:`seminfo.models.compare.compare_models`, then shows, for one
prompt and response, each model's information-flow curve S_t (:func:`seminfo.flow.information_flow`;
the masked model read left to right), the Transformer's attention and Mamba2's state-space matrix as
time-varying VAR coefficients (:func:`seminfo.flow.attention_var`, :func:`seminfo.flow.ssm_var`), and
the logit lens of all three (:func:`seminfo.flow.logit_lens`).
"""

from __future__ import annotations

import numpy as np

from ..errors import SeminfoError
from .core import ReportContext, Section, esc, figure_html, table_html

__all__ = ["build", "BUILTINS", "PROMPT", "RESPONSE"]

BUILTINS = ["builtin:gpt", "builtin:mamba", "builtin:diffusion"]
#: The prompt and response every model scores for the flow curves (same bytes for all).
PROMPT = "The built-in function len() returns"
RESPONSE = " the number of items in a container."
#: Bytes of the corpus compared, and ELBO samples per window (normal, fast).
COMPARE_BYTES = (2_000, 600)
SAMPLES = (16, 4)


def _two_panels(curves: dict, ylabels: tuple[str, str], xlabel: str, alt: str) -> str:
    """Two side-by-side line plots; `curves` maps a label to ((x, y_left), (x, y_right))."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, panels in curves.items():
        for ax, (x, y) in zip(axes, panels):
            ax.plot(x, y, marker="o", ms=3, label=name)
    for ax, ylabel in zip(axes, ylabels):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize="small")
    return figure_html(fig, alt=alt)


def _flow_figure(flows: dict) -> str:
    curves = {}
    for name, f in flows.items():
        t = np.arange(1, len(f.tokens) + 1)
        curves[name] = ((t, f.cumulative_bits), (t, f.surprisal_bits))
    return _two_panels(curves, ("S_t = sum of info density (bits)",
                                "surprisal -log2 p(y_t | y^{t-1}, x) (bits/token)"),
                       "response token t (each model's own tokens)",
                       "information-flow curves of each model for one prompt")


def _mixer_figure(att, ssm) -> str:
    import matplotlib.pyplot as plt
    panels = []
    if att is not None:
        panels.append(("builtin:gpt: attention alpha (last layer, mean over heads)", att.alpha[-1].mean(0),
                       att.tokens))
    if ssm is not None:
        panels.append(("builtin:mamba: |M[t, s]| (last layer, mean over heads)", np.abs(ssm.alpha[-1]).mean(0),
                       ssm.tokens))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (title, mat, toks) in zip(axes[0], panels):
        im = ax.imshow(mat, cmap="viridis")
        ax.set_title(title, fontsize="small")
        ax.set_xlabel("source position s")
        ax.set_ylabel("target position t")
        labels = [repr(t)[1:-1][:8] for t in toks]
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return figure_html(fig, alt="attention and state-space coefficient matrices")


def _lens_figure(lenses: dict) -> str:
    curves = {}
    for name, lens in lenses.items():
        depth = np.asarray(lens.layers, dtype=float) / max(lens.layers[-1], 1)
        curves[name] = ((depth, lens.kl_to_final_bits.mean(axis=1)), (depth, lens.entropy_bits.mean(axis=1)))
    return _two_panels(curves, ("mean D(p_L || p_l) (bits/token)", "mean lens entropy H(p_l) (bits/token)"),
                       "relative depth l / L (0 = embeddings)", "logit lens of each architecture")


def build(ctx: ReportContext) -> Section:
    """The "Three architectures" section: comparison table, flow curves, mixers and lens."""
    from ..flow import attention_var, information_flow, logit_lens, ssm_var
    from ..models.compare import compare_models
    fast = 1 if ctx.fast else 0
    specs = list(BUILTINS) + ([] if ctx.fast else [m for m in ctx.models if m not in BUILTINS])
    models, notes = {}, []
    for spec in specs:
        try:
            models[spec] = ctx.model(spec)
        except SeminfoError as exc:
            notes.append(f"{spec}: {exc}")
    text = ctx.text()[: COMPARE_BYTES[fast]]
    ctx.log(f"comparing {len(models)} models on {len(text)} bytes")
    result = compare_models(list(models.values()), text, samples=SAMPLES[fast], seed=ctx.seed)
    rows = [{"model": m.name, "family": m.family, "bits/byte": m.bits_per_byte, "± stderr": m.stderr,
             "bound": "exact" if m.exact else "ELBO (upper)", "parameters": m.parameters,
             "state bytes/token": m.state_bytes_per_token, "state": m.state_kind, "context": m.context_length,
             "tokens/s": m.tokens_per_second, "Granger bits/token": m.granger_bits_per_token}
            for m in result.models]
    parts = [
        "<p>One frame for three architectures. A <b>Transformer</b> (builtin:gpt) and a <b>Mamba2</b> "
        "state-space model (builtin:mamba) factorise p(x) left to right, so their code length is exact. A "
        "<b>masked-diffusion</b> model (builtin:diffusion) predicts masked tokens from visible ones in any "
        "order; its code length is the negative ELBO, an upper bound estimated by Monte Carlo (± one "
        "standard error). All three share one tokenizer and one training corpus. State bytes per token are "
        "measured at the model's context length: the Transformer's KV cache grows with the context, the "
        "SSM's state is fixed, and the diffusion model re-reads the whole sequence at every step. The "
        "Granger statistic is how many bits per token the past beyond the previous token saves.</p>",
        table_html(rows, caption=f"Models on the same {len(text):,} bytes (bits per UTF-8 byte; "
                                 f"{result.samples} ELBO samples per window)", digits=4)]
    if notes:
        parts.append("<p><em>Not available: " + esc("; ".join(notes)) + "</em></p>")
    data = {"compare": result.summary(), "prompt": PROMPT, "response": RESPONSE}

    flows = {}
    for spec in BUILTINS:
        if spec in models:
            flows[spec] = information_flow(models[spec], PROMPT, RESPONSE)
    if flows:
        parts.append(f"<h3>Information flow for one prompt</h3><p>Prompt {esc(repr(PROMPT))}, response "
                     f"{esc(repr(RESPONSE))}. S_t sums the information density log2 p(y_t | y^(t-1), x) - "
                     "log2 p(y_t | y^(t-1)) (null-prompt marginal); the diffusion model is read left to "
                     "right with the later response positions masked.</p>")
        parts.append(_flow_figure(flows))
        data["flow_total_bits"] = {k: float(f.total_bits) for k, f in flows.items()}

    passage = PROMPT + RESPONSE
    att = ssm_res = None
    if "builtin:gpt" in models:
        att = attention_var(models["builtin:gpt"], passage)
    if "builtin:mamba" in models:
        ssm_res = ssm_var(models["builtin:mamba"], passage)
    if att is not None or ssm_res is not None:
        parts.append("<h3>Token mixing as a time-varying VAR</h3><p>Each output position t is a linear "
                     "combination of earlier positions s. For attention the coefficient is "
                     "alpha<sub>ts</sub> W<sub>O</sub>W<sub>V</sub>; for Mamba2 it is "
                     "M[t, s] = (C<sub>t</sub>·B<sub>s</sub>) exp(A Σ<sub>r=s+1..t</sub> dt<sub>r</sub>) "
                     "dt<sub>s</sub> (state-space duality). Both readings are checked by rebuilding the "
                     "layer's output: max error "
                     + esc(", ".join(f"{n} {r.max_reconstruction_error:.1e}" for n, r in
                                     (("attention", att), ("SSM", ssm_res)) if r is not None)) + ".</p>")
        parts.append(_mixer_figure(att, ssm_res))
        data["var_reconstruction_error"] = {n: float(r.max_reconstruction_error) for n, r in
                                            (("attention", att), ("ssm", ssm_res)) if r is not None}
    lenses = {}
    for spec in BUILTINS:
        if spec in models:
            lenses[spec] = logit_lens(models[spec], passage)
    if lenses:
        parts.append("<h3>Logit lens</h3><p>Every layer's state read through the final norm and the "
                     "unembedding (for the diffusion model: its prediction head, left to right).</p>")
        parts.append(_lens_figure(lenses))
    return Section(title="Three architectures in one frame: Transformer, Mamba2, masked diffusion",
                   html="\n".join(parts), key="architectures", data=data)
