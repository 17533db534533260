"""Report section "Token models": how many bits each model needs for the corpus, and where.

``build(ctx)`` scores the report's corpus with every model in ``ctx.models`` through
:func:`seminfo.models.scoring.score_bytes` and shows

* a table of bits per token, bits per byte, perplexity, tokens, bytes and seconds per model
  (tokenizers differ, so bits per byte is the comparable figure; theory §4 aggregation by totals);
* a surprisal heat-map of a passage under the main model (``ctx.models[0]``): one HTML span per
  token, coloured by -log2 p(x_t | x^{t-1}), with the bits in a tooltip; token text is escaped;
* histograms of per-token surprisal and predictive entropy (bits/token) for every model.

The main numbers go to ``Section.data["models"]``. In ``ctx.fast`` mode the corpus is cut to
:data:`FAST_BYTES` bytes. A model that cannot be loaded offline is listed with its reason, not
fatal. Leaves out: per-document breakdowns and confidence intervals of the corpus figures.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ModelNotAvailableError
from ..models.capability import capabilities
from .core import ReportContext, Section, esc, figure_html, table_html

__all__ = ["build", "surprisal_heatmap_html"]

#: Corpus bytes scored in fast mode, and bytes of the heat-map passage.
FAST_BYTES = 3_000
PASSAGE_BYTES = 1_200
#: Upper end of the heat-map colour scale, bits.
HEAT_MAX_BITS = 16.0


def _colour(bits: float, vmax: float) -> str:
    """Background colour for a surprisal: white (0 bits) to dark red (>= vmax bits), as CSS rgb()."""
    import matplotlib
    r, g, b, _ = matplotlib.colormaps["YlOrRd"](min(max(bits / vmax, 0.0), 1.0))
    return f"rgb({int(255 * r)},{int(255 * g)},{int(255 * b)})"


def surprisal_heatmap_html(model, data: bytes, *, vmax: float = HEAT_MAX_BITS) -> str:
    """HTML of `data` as coloured token spans: colour and tooltip give -log2 p(x_t | x^{t-1}) in bits.

    Parameters
    ----------
    model : TokenModel
        Scores the tokens of `data` (prefix included, within ``model.max_context``).
    data : bytes
        The passage; every token's text is HTML-escaped.
    vmax : float, keyword-only
        Surprisal (bits) of the darkest colour.

    Returns
    -------
    str
        A ``<div>`` of spans followed by a legend.
    """
    ids = np.asarray(model.tokenizer.encode(data), dtype=np.int64)
    if model.max_context is not None:
        ids = ids[: max(model.max_context - len(model.prefix), 1)]
    if ids.size == 0:
        return "<p><em>(empty passage)</em></p>"
    surprisal, entropy = model.token_stats(ids[None])
    bits, ent = surprisal[0] / np.log(2), entropy[0] / np.log(2)
    spans = []
    for t, tid in enumerate(ids.tolist()):
        text = model.tokenizer.token_str(tid)
        tip = f"{text!r}: {bits[t]:.2f} bits (entropy {ent[t]:.2f} bits)"
        spans.append(f'<span style="background:{_colour(bits[t], vmax)}" title="{esc(tip)}">'
                     f"{esc(text)}</span>")
    stops = ", ".join(_colour(v, vmax) for v in np.linspace(0, vmax, 6))
    legend = (f'<div class="legend" style="display:flex;align-items:center;gap:6px;font-size:small">'
              f'<span>0 bits</span><span style="display:inline-block;width:220px;height:12px;'
              f'background:linear-gradient(to right, {stops})"></span><span>&ge; {vmax:g} bits</span>'
              f'<span>(surprisal per token; hover a token for its bits)</span></div>')
    body = ('<div class="heatmap" style="white-space:pre-wrap;font-family:monospace;line-height:1.6">'
            + "".join(spans) + "</div>")
    return body + legend


def _histograms(results: dict) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    top = max([20.0] + [float(np.max(r.surprisal_bits)) for r in results.values() if r.n_tokens])
    bins = np.linspace(0, np.ceil(top), 61)
    for spec, r in results.items():
        for ax, values in zip(axes, (r.surprisal_bits, r.entropy_bits)):
            values = np.asarray(values, dtype=np.float64)
            ax.hist(values, bins=bins, histtype="step", density=True,
                    label=f"{spec} (mean {values.mean():.2f})")
    axes[0].set_xlabel("surprisal -log2 p(x_t | x^{t-1}) (bits/token)")
    axes[1].set_xlabel("predictive entropy H(p(. | x^{t-1})) (bits/token)")
    for ax in axes:
        ax.set_ylabel("density")
        ax.legend(fontsize="small")
    return figure_html(fig, alt="histograms of per-token surprisal and predictive entropy")


def build(ctx: ReportContext) -> Section:
    """The "Token models" section: per-model table, surprisal heat-map and histograms."""
    from ..models.scoring import score_bytes
    text = ctx.text()
    if ctx.fast:
        text = text[:FAST_BYTES]
    rows, results, data, loaded = [], {}, {"n_bytes": len(text), "models": {}}, {}
    for spec in ctx.models:
        try:
            model = ctx.model(spec)
        except ModelNotAvailableError as exc:
            rows.append({"model": spec, "bits/token": None, "bits/byte": None, "perplexity": None,
                         "tokens": None, "bytes": len(text), "seconds": None, "note": str(exc)})
            data["models"][spec] = {"available": False, "reason": str(exc)}
            continue
        if "score" not in capabilities(model):
            why = "not a left-to-right model: its ELBO bound is in the architectures section"
            rows.append({"model": spec, "bits/token": None, "bits/byte": None, "perplexity": None,
                         "tokens": None, "bytes": len(text), "seconds": None, "note": why})
            data["models"][spec] = {"available": False, "reason": why}
            continue
        ctx.log(f"scoring {len(text)} bytes with {spec}")
        t0 = time.perf_counter()
        r = score_bytes(model, text, progress=not ctx.fast)
        seconds = time.perf_counter() - t0
        loaded[spec], results[spec] = model, r
        rows.append({"model": spec, "bits/token": float(r.bits_per_token), "bits/byte": float(r.bits_per_byte),
                     "perplexity": float(r.perplexity), "tokens": int(r.n_tokens), "bytes": int(r.n_bytes),
                     "seconds": round(seconds, 3), "note": ""})
        data["models"][spec] = {"available": True, "bits_per_token": float(r.bits_per_token),
                                "bits_per_byte": float(r.bits_per_byte), "perplexity": float(r.perplexity),
                                "n_tokens": int(r.n_tokens), "n_bytes": int(r.n_bytes), "seconds": seconds,
                                "mean_entropy_bits_per_token": float(np.mean(r.entropy_bits))}
    parts = [
        "<p>Each model scores the same bytes. Tokens differ between tokenizers, so <b>bits per byte</b> "
        "(total surprisal / UTF-8 bytes) is the comparable figure; bits per token = total surprisal / "
        "tokens and perplexity = 2<sup>bits/token</sup> (per token of that model's tokenizer).</p>",
        table_html(rows, caption=f"Scores on {len(text):,} bytes of the corpus", digits=5),
    ]
    if loaded:
        main = next(s for s in ctx.models if s in loaded)
        passage = text[:PASSAGE_BYTES]
        limit = loaded[main].max_context
        cap = f", at most {limit - len(loaded[main].prefix)} tokens" if limit else ""
        parts.append(f"<h3>Surprisal heat-map ({esc(main)}, first {len(passage):,} bytes{cap})</h3>")
        parts.append(surprisal_heatmap_html(loaded[main], passage))
        data["heatmap"] = {"model": main, "n_bytes": len(passage)}
        parts.append("<h3>Per-token surprisal and predictive entropy</h3>")
        parts.append(_histograms(results))
    return Section(title="Token models: bits per token and per byte", html="\n".join(parts),
                   key="models", data=data)
